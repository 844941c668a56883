//! The one `bindgen!` for the `escalier:plugin` world. Everything else in
//! the host uses the types generated here; the guest SDK has its own,
//! generated from the same `wit/` directory.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "plugin",
    // Every host function may trap: that is how a call to a capability
    // the manifest does not grant is refused.
    imports: { default: trappable },
});
