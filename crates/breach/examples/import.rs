//! Import corpus files into an index, with the library alone (no server build):
//! `cargo run --release -p gatehouse-breach --example import -- OUT INPUT...`.
//! Used to measure an import's peak memory (`/usr/bin/time -v`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let out = std::path::PathBuf::from(args.next().ok_or("usage: import OUT INPUT...")?);
    let inputs: Vec<std::path::PathBuf> = args.map(Into::into).collect();
    let opts = gatehouse_breach::BuildOptions {
        source: "example import".into(),
        // BREACH_MAX_PARTITION_KEYS: keys per filter partition (memory vs bits/key).
        max_partition_keys: std::env::var("BREACH_MAX_PARTITION_KEYS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1 << 22),
        ..Default::default()
    };
    let r = gatehouse_breach::import(&inputs, &out, &opts)?;
    println!(
        "{} keys, {} bytes; parse+spill {:.2} s, sort {:.2} s, filter {:.2} s, exact {:.2} s, write {:.2} s; \
         build after parse {:.0} ns/key; {} partitions",
        r.keys,
        r.index_bytes,
        r.parse_secs,
        r.sort_secs,
        r.filter_secs,
        r.exact_secs,
        r.write_secs,
        r.build_secs() * 1e9 / r.keys.max(1) as f64,
        r.partitions
    );
    Ok(())
}
