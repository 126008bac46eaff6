//! Start a throwaway PostgreSQL cluster, print its URL on one line, keep it
//! running until stdin closes, then stop and remove it. Used by the e2e
//! tests and bench/store.

use std::io::{Read, Write};

fn main() {
    let cluster = match nimbus_store_postgres::scratch::ScratchCluster::start() {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("nimbus-pg-scratch: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", cluster.url());
    let _ = out.flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
