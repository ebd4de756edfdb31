//! wgctl entry point.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match wgctl::cli::run(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wgctl: {e}");
            1
        }
    };
    std::process::exit(code);
}
