//! The one `bindgen!` for the `escalier:plugin` world. Everything else in
//! the host uses the types generated here; the guest SDK has its own,
//! generated from the same `wit/` directory.
//!
//! Versions: the host defines the interfaces at the package version in
//! `wit/` (0.1.2). wasmtime's linker resolves a component's imports and
//! the host's lookups of its exports semver-compatibly, so a component
//! built against 0.1.0 or 0.1.1 links to these definitions unchanged (an
//! interface that gained a function, like `outbound-http` in 0.1.2, still
//! satisfies an import of its older, smaller form). The fixtures in
//! `tests/fixtures/wit-0.1.0` and `tests/fixtures/wit-0.1.1` keep that true.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "plugin",
    // Every host function may trap: that is how a call to a capability
    // the manifest does not grant is refused.
    imports: { default: trappable },
});
