use std::path::Path;

use super::*;

const BASE: &str = "[server]\npublic_url = \"https://b.example\"\n[odoo]\nurl = \"http://127.0.0.1:8069\"\ndatabase = \"ig\"\nlogin = \"b\"\npassword = \"pw\"\n";

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(
        text,
        Path::new("c.toml"),
        Path::new("/etc/x"),
        &Environment::default(),
    )
}

#[test]
fn scratch() {
    for text in [
        format!("{BASE}timeout = \"abc\"\n"),
        format!("{BASE}protocol = \"foo\"\n"),
        format!("{BASE}lookup = \"id\"\n"),
        format!("{BASE}[images]\nallowed_hosts = [\n  \"ok.example\",\n  \"*bad*\",\n]\n"),
        format!("{BASE}[images]\nallowed_ports = [70000]\n"),
        "[server]\npublic_url = \"https://b.example\"\n[odoo]\nurl = \"http://x\"\nlogin=\"a\"\n"
            .to_owned(),
        "[odoo]\nurl = \"http://x\"\n".to_owned(),
        format!("{BASE}[n8n]\napi_key = {{ file = \"k\", mode = 1 }}\n"),
        format!("{BASE}[n8n]\napi_key = 5\n"),
        format!("{BASE}[limits]\nmax_connections = 5\n"),
        BASE.replace("https://b.example", "ftp://x"),
        format!("{BASE}[server]\n"),
    ] {
        println!("{:?}", load(&text).map(|_| ()).unwrap_err().to_string());
    }
    let ok = load(BASE).unwrap();
    println!("{ok:?}");
}
