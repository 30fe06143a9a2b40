//! Compiles the storage-cluster demo's protobuf with the vendored protoc, so building needs
//! nothing from outside Cargo.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY of set_var: build scripts are single-threaded at this point.
    std::env::set_var("PROTOC", protoc);
    println!("cargo:rerun-if-changed=proto/storage.proto");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_protos(&["proto/storage.proto"], &["proto"])?;
    Ok(())
}
