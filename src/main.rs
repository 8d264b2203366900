// Temporary: only `cachecheck proxy-server [--listen ADDR]` (the lead replaces this file).
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("proxy-server") => {
            let listen = match args.get(1).map(String::as_str) {
                Some("--listen") => args.get(2).map(String::as_str).unwrap_or("127.0.0.1:8474"),
                _ => "127.0.0.1:8474",
            };
            cachecheck::proxy_server::run_cli(listen.parse()?)
        }
        _ => Ok(()),
    }
}
