// A Rust "service" for the tracing tests: exits 0 from a helper when PORT is unset, panics on request.
fn validate_env() -> u16 {
    match std::env::var("PORT") {
        Ok(v) => v.parse().unwrap(),
        Err(_) => { std::process::exit(0) }
    }
}
fn load_config(path: &str) -> String {
    if path.is_empty() { panic!("config path is empty"); }
    path.to_string()
}
fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode == "panic" { load_config(""); }
    let port = validate_env();
    println!("listening on {}", port);
}
