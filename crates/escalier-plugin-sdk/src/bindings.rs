//! Bindings for the `escalier:plugin` world, generated from `wit/` at the
//! repository root. Plugin authors use the re-exports in the crate root;
//! this module is public only so `export_plugin!` can reach it.

wit_bindgen::generate!({
    path: "../../wit",
    world: "plugin",
    pub_export_macro: true,
    default_bindings_module: "escalier_plugin_sdk::bindings",
    runtime_path: "escalier_plugin_sdk::__private::wit_bindgen::rt",
});
