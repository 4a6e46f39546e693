include!("../build-support/torch_rpath.rs");

fn main() {
    embed_torch_rpath();
}
