//! `cargo bench -p jcr-reference --bench jcr-bench [-- --size-mib N]`: measurements, not timed tests.
//!
//! Prints figures for the reference server next to a baseline measured in the same run: the CNCF
//! distribution registry (`docker-registry`, Debian package) for start-up, idle memory, blob upload and
//! download and small-request throughput, and the machine's `md5sum` for hashing throughput. Needs
//! `curl`, `md5sum`, `sha256sum`, `wrk` and `docker-registry` on the PATH; a missing peer tool is reported
//! and its rows are skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const AUTH: &str = "YWRtaW46cGFzc3dvcmQ="; // admin:password

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size_mib: u64 = args
        .iter()
        .position(|a| a == "--size-mib")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let secs: u64 = args
        .iter()
        .position(|a| a == "--wrk-secs")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let only_auth = args.iter().any(|a| a == "--only-auth");
    let only_docker = args.iter().any(|a| a == "--only-docker");
    let only_search = args.iter().any(|a| a == "--only-search");
    let only_load = args.iter().any(|a| a == "--only-registry-load");
    let only_builds = args.iter().any(|a| a == "--only-builds");
    let only_remote = args.iter().any(|a| a == "--only-remote");
    let only_import_export = args.iter().any(|a| a == "--only-import-export");
    let only_restart = args.iter().any(|a| a == "--only-restart");
    let only_reset = args.iter().any(|a| a == "--only-reset");
    let items: Vec<usize> = args
        .iter()
        .position(|a| a == "--items")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000]);
    let work = tempfile::tempdir().expect("temp dir");
    let have = |tool: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let peer = have("docker-registry");
    if !peer {
        println!(
            "note: docker-registry not found (apt-get install docker-registry); peer rows skipped"
        );
    }
    println!(
        "jcr-reference benchmark ({} cores), {size_mib} MiB transfer file\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    if only_auth {
        auth_cost(secs);
        return;
    }
    if only_docker {
        docker(work.path(), &[50, size_mib]);
        return;
    }
    if only_builds {
        builds_bench();
        return;
    }
    if only_remote {
        remote_bench(size_mib);
        return;
    }
    if only_restart {
        println!(
            "{:<44} {:>14} {:>14} {:>10}",
            "measure (s, MiB)", "jcr-reference", "empty dir", "ratio"
        );
        restart_bench(work.path(), &items);
        return;
    }
    if only_import_export {
        import_export_bench(work.path(), &items, size_mib);
        return;
    }
    if only_reset {
        reset_bench(work.path());
        return;
    }
    if only_load {
        first_read(work.path(), size_mib);
        registry_load(work.path());
        return;
    }
    if only_search {
        for &n in &items {
            search(n);
        }
        return;
    }
    // 1. Start to first 200, and idle RSS.
    let mut ours_start = Vec::new();
    let mut theirs_start = Vec::new();
    for _ in 0..5 {
        let (child, t, _) = start_ours();
        ours_start.push(t);
        stop(child);
        if peer {
            let (child, t, _) = start_registry(work.path());
            theirs_start.push(t);
            stop(child);
        }
    }
    let (ours, _, ours_port) = start_ours();
    std::thread::sleep(Duration::from_millis(500));
    let ours_idle = rss_kib(ours.id());
    let mut theirs = None;
    if peer {
        let (child, _, port) = start_registry(work.path());
        std::thread::sleep(Duration::from_millis(500));
        let idle = rss_kib(child.id());
        theirs = Some((child, port, idle));
    }
    println!(
        "{:<44} {:>14} {:>14} {:>10}",
        "measure", "jcr-reference", "baseline", "ratio"
    );
    row_ms(
        "start to first 200 (median of 5)",
        median(&ours_start),
        theirs.as_ref().map(|_| median(&theirs_start)),
        "distribution GET /v2/",
    );
    row(
        "idle RSS (MiB)",
        ours_idle as f64 / 1024.0,
        theirs.as_ref().map(|t| t.2 as f64 / 1024.0),
        "distribution",
        true,
    );

    // 2. Big file: md5sum baseline, upload, download.
    let file = work.path().join("big.bin");
    write_file(&file, size_mib << 20);
    let bytes = (size_mib << 20) as f64;
    let mib = |secs: f64| bytes / secs / (1 << 20) as f64;
    let _ = run_timed("cat", &[file.to_str().unwrap()], true); // warm the page cache
    let md5_secs = median_f(3, || run_timed("md5sum", &[file.to_str().unwrap()], true));
    let sha256 = String::from_utf8(
        Command::new("sha256sum")
            .arg(&file)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()[..64]
        .to_string();

    let ours_url = format!("http://127.0.0.1:{ours_port}/artifactory/generic-local/bench/big.bin");
    let before = rss_kib(ours.id());
    let peak = Arc::new(AtomicU64::new(before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, pid) = (peak.clone(), sampling.clone(), ours.id());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    // Three deploys to distinct paths; the median counts, the RSS peak covers all three.
    let mut n = 0;
    let up_secs = median_f(3, || {
        n += 1;
        let url = format!("{ours_url}.{n}");
        let auth = format!("Authorization: Basic {AUTH}");
        curl_timed(&[
            "-f",
            "-o",
            "/dev/null",
            "-H",
            &auth,
            "-T",
            file.to_str().unwrap(),
            &url,
        ])
    });
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let growth_mib = peak.load(Ordering::Relaxed).saturating_sub(before) as f64 / 1024.0;

    println!();
    row(
        "md5sum of the file (MiB/s, median of 3)",
        mib(md5_secs),
        None,
        "",
        true,
    );
    let (peer_up, peer_down) = match &theirs {
        Some((_, port, _)) => {
            let up = Some(median_f(3, || {
                registry_upload(*port, &file, &sha256).unwrap_or(f64::NAN)
            }))
            .filter(|s| s.is_finite())
            .map(mib);
            let url = format!("http://127.0.0.1:{port}/v2/bench/blobs/sha256:{sha256}");
            // The first GET after the uploads, as a client meets it (no warm-up read first).
            let down = curl_timed(&["-f", "-o", "/dev/null", &url]);
            (up, Some(mib(down)))
        }
        None => (None, None),
    };
    row(
        "deploy (MiB/s, median of 3) vs md5sum",
        mib(up_secs),
        Some(mib(md5_secs)),
        "md5sum",
        true,
    );
    if let Some(up) = peer_up {
        row(
            "deploy vs distribution upload (medians of 3)",
            mib(up_secs),
            Some(up),
            "distribution",
            true,
        );
    }
    row(
        "server RSS growth during the deploys (MiB)",
        growth_mib,
        None,
        "",
        false,
    );
    let down_secs = curl_timed(&[
        "-f",
        "-o",
        "/dev/null",
        "-H",
        &format!("Authorization: Basic {AUTH}"),
        &format!("{ours_url}.1"),
    ]);
    row(
        "first retrieve (MiB/s) vs distribution blob GET",
        mib(down_secs),
        peer_down,
        "distribution",
        true,
    );

    // 3. Small requests with wrk.
    if have("wrk") {
        println!();
        let ping = wrk(
            &format!("http://127.0.0.1:{ours_port}/artifactory/api/system/ping"),
            None,
            secs,
        );
        let info = wrk(
            &format!(
                "http://127.0.0.1:{ours_port}/artifactory/api/storage/generic-local/bench/big.bin.1"
            ),
            Some(AUTH),
            secs,
        );
        let v2 = theirs
            .as_ref()
            .map(|(_, port, _)| wrk(&format!("http://127.0.0.1:{port}/v2/"), None, secs));
        row(
            "ping (req/s) vs distribution GET /v2/",
            ping,
            v2,
            "distribution",
            true,
        );
        row(
            "file info (req/s) vs distribution GET /v2/",
            info,
            v2,
            "distribution",
            true,
        );
        auth_cost(secs);
    } else {
        println!("note: wrk not found (apt-get install wrk); request-rate rows skipped");
    }
    stop(ours);
    if let Some((child, _, _)) = theirs {
        stop(child);
    }
    if have("skopeo") && peer {
        docker(work.path(), &[50, size_mib]);
        first_read(work.path(), size_mib);
        registry_load(work.path());
    } else {
        println!("note: skopeo or docker-registry not found; registry rows skipped");
    }
    builds_bench();
}

/// Section 6, searches: `n` items generated straight into a store's state (varied repositories,
/// paths, names, sizes, dates, 0–5 properties each), the resident memory they take, and p50/p99 of
/// the searches the issue names, run in-process (no HTTP) 20 times each. Targets at 1M items: p50 ≤
/// 100 ms each, ≤ 500 bytes per item.
fn search(n: usize) {
    use jcr_reference::bench::{aql, aql_eval, legacy};
    use jcr_reference::bench::{FileData, Mutation, Props, Stamp, State};
    use jcr_reference::{PackageType, RepoClass, RepoConfig};
    let before = rss_kib(std::process::id());
    let heap_before = heap_in_use();
    let mut state = State::default();
    let repos = 8;
    for r in 0..repos {
        let m = Mutation::CreateRepo {
            config: RepoConfig::new(&format!("repo-{r}"), RepoClass::Local, PackageType::Generic),
            now: 0,
            user: "bench".into(),
        };
        state.apply(&m).expect("repository");
    }
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let exts = ["jar", "pom", "tgz", "zip", "txt", "json"];
    let t = Instant::now();
    for i in 0..n {
        let r = rnd();
        let mut props = Props::default();
        for p in 0..(r % 6) {
            props.add(
                &format!("key{}", (r >> (8 + p)) % 20),
                &format!("v{}", (r >> (16 + p)) % 50),
            );
        }
        let hex = format!("{:016x}{:016x}{:016x}{:016x}", rnd(), rnd(), rnd(), rnd());
        let m = Mutation::PutFile {
            repo: format!("repo-{}", r % repos),
            path: format!(
                "org/group{}/artifact{}/{}/artifact{}-{}.{}",
                (r >> 3) % 100,
                (r >> 10) % 1000,
                (r >> 20) % 10,
                (r >> 10) % 1000,
                i,
                exts[(r >> 30) as usize % exts.len()]
            ),
            file: FileData {
                size: r % 10_000_000,
                sha1: hex[..40].into(),
                md5: hex[..32].into(),
                sha256: hex.as_str().into(),
                original: None,
                mime: "application/octet-stream".into(),
                stats: None,
            },
            props,
            now: 1_600_000_000_000 + (r % 100_000_000_000) as i64,
            user: "bench".into(),
            stamp: Stamp::default(),
        };
        state.apply(&m).expect("item");
    }
    let load = t.elapsed();
    let after = rss_kib(std::process::id());
    let heap = heap_in_use().saturating_sub(heap_before) as f64;
    let total: usize = state.repos.values().map(|r| r.items.len()).sum();
    println!();
    println!(
        "search over {n} files ({total} items with folders), loaded in {:.1} s",
        load.as_secs_f64()
    );
    let grown = after.saturating_sub(before) as f64 * 1024.0;
    println!(
        "{:<44} {:>14.0}   ({:.0} per tree entry, folders included)",
        "resident memory per generated item, bytes",
        grown / n as f64,
        grown / total as f64
    );
    // The allocator's count of bytes in use: steadier than RSS, which moves with how freed memory
    // is reused.
    println!(
        "{:<44} {:>14.0}   ({:.0} per tree entry)",
        "heap in use per generated item, bytes",
        heap / n as f64,
        heap / total as f64
    );
    let time = |name: &str, f: &mut dyn FnMut() -> usize| {
        let mut ms: Vec<f64> = (0..20)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{name:<44} p50 {:>8.2} ms   p99 {:>8.2} ms   ({} rows)",
            ms[ms.len() / 2],
            ms[ms.len() * 99 / 100],
            f()
        );
    };
    let q = |text: &str| aql::parse(text).expect("query");
    let by_name = q(
        r#"items.find({"repo":"repo-3","name":{"$match":"artifact42-*"}}).sort({"$asc":["name"]}).limit(50)"#,
    );
    let by_prop = q(r#"items.find({"@key7":"v12"})"#);
    let sha = {
        let (_, _, i) = legacy::quick(&state, &legacy::scope(&state, &[]), "*artifact1-*")
            .into_iter()
            .next()
            .expect("an item");
        i.file.as_ref().expect("file").sha1
    };
    let by_sum = q(&format!(r#"items.find({{"actual_sha1":"{sha}"}})"#));
    let all = legacy::scope(&state, &[]);
    time("AQL repo + name $match, sort, limit", &mut || {
        aql_eval::run(&state, &[], &by_name, 0, true, |_, _| true)
            .map(|a| printed(&state, a))
            .unwrap_or(0)
    });
    time("AQL by property key/value", &mut || {
        aql_eval::run(&state, &[], &by_prop, 0, true, |_, _| true)
            .map(|a| printed(&state, a))
            .unwrap_or(0)
    });
    time("AQL by checksum", &mut || {
        aql_eval::run(&state, &[], &by_sum, 0, true, |_, _| true)
            .map(|a| printed(&state, a))
            .unwrap_or(0)
    });
    time("quick search by name", &mut || {
        legacy::quick(&state, &all, "*artifact42-1*").len()
    });
    let criteria = vec![("key7".to_string(), vec!["v12".to_string()])];
    time("property search", &mut || {
        legacy::by_properties(&state, &all, &criteria).len()
    });
    drop(all);
    // What a restart reads: the repositories as the snapshot holds them.
    let snapshot = serde_json::to_vec(&state.repos).expect("snapshot");
    // Where the heap goes: the state is taken apart piece by piece and each piece's share printed.
    let path_bytes: usize = state
        .repos
        .values()
        .flat_map(|r| r.items.keys())
        .map(|k| k.len())
        .sum();
    println!(
        "{:<44} {:>14.0}   ({:.0} per tree entry)",
        "  of which path text, bytes",
        path_bytes as f64 / n as f64,
        path_bytes as f64 / total as f64
    );
    let part = |label: &str, state: &mut State, f: &dyn Fn(&mut State)| {
        let h = heap_in_use();
        f(state);
        let freed = h.saturating_sub(heap_in_use()) as f64;
        println!(
            "{:<44} {:>14.0}   ({:.0} per tree entry)",
            format!("  of which {label}, bytes"),
            freed / n as f64,
            freed / total as f64
        );
    };
    part("indexes", &mut state, &|s| s.index = Default::default());
    part("properties", &mut state, &|s| {
        for i in s.repos.values_mut().flat_map(|r| r.items.values_mut()) {
            i.props = Props::default();
        }
    });
    part("file data (checksums, size, type)", &mut state, &|s| {
        for i in s.repos.values_mut().flat_map(|r| r.items.values_mut()) {
            i.file = None;
        }
    });
    part("tree entries and their paths", &mut state, &|s| {
        for r in s.repos.values_mut() {
            r.items.clear();
        }
    });
    drop(state);
    // After a restart the snapshot is read into maps built with full nodes (entries added one at
    // a time leave them about two-thirds full); a running server rebuilds them the same way each
    // time it writes a snapshot.
    let h = heap_in_use();
    let mut restored = State {
        repos: serde_json::from_slice(&snapshot).expect("snapshot back"),
        ..State::default()
    };
    restored.reindex();
    let heap = heap_in_use().saturating_sub(h) as f64;
    println!(
        "{:<44} {:>14.0}   ({:.0} per tree entry)",
        "heap per generated item after a restart",
        heap / n as f64,
        heap / total as f64
    );
    // The rebuild a running server does under the write lock each time it writes a snapshot.
    let t = Instant::now();
    restored.pack();
    println!(
        "{:<44} {:>11.0} ms",
        "State::pack (after each snapshot write)",
        t.elapsed().as_secs_f64() * 1000.0
    );
}

/// Prints an AQL answer's rows as the endpoint does and counts them.
fn printed(
    state: &jcr_reference::bench::State,
    a: jcr_reference::bench::aql_eval::Answer,
) -> usize {
    use jcr_reference::bench::aql_eval::Rows;
    match a.rows {
        Rows::Printed(rows) => rows.len(),
        Rows::Items(items) => items.print(state, &[], &|_, _| true, 0..items.len()).len(),
    }
}

/// An OCI image layout with one uncompressed layer of `mib` MiB of pseudo-random bytes; returns its
/// directory.
fn oci_layout(work: &Path, mib: u64) -> PathBuf {
    oci_layout_seeded(work, mib, 0)
}

/// [`oci_layout`] with a layer of other bytes for every `seed`.
fn oci_layout_seeded(work: &Path, mib: u64, seed: u64) -> PathBuf {
    oci_layout_with(work, mib, seed, false)
}

/// An OCI image layout whose layer is `mib` MiB of bytes made from `seed`; with `gzip` the layer is
/// a gzip stream of stored (uncompressed) blocks, which clients take as already compressed and push
/// as it is (an uncompressed layer they gzip on the way, which then bounds the push).
fn oci_layout_with(work: &Path, mib: u64, seed: u64, gzip: bool) -> PathBuf {
    use sha2::{Digest, Sha256};
    let dir = work.join(format!("oci-{mib}-{seed}-{gzip}"));
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let tmp = dir.join("layer.tmp");
    write_seeded(&tmp, mib << 20, seed);
    if gzip {
        let raw = dir.join("layer.raw");
        std::fs::rename(&tmp, &raw).unwrap();
        let out = std::fs::File::create(&tmp).unwrap();
        let mut z = flate2::write::GzEncoder::new(
            std::io::BufWriter::new(out),
            flate2::Compression::none(),
        );
        std::io::copy(&mut std::fs::File::open(&raw).unwrap(), &mut z).unwrap();
        z.finish().unwrap().flush().unwrap();
        std::fs::remove_file(&raw).unwrap();
    }
    let size = std::fs::metadata(&tmp).unwrap().len();
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(&tmp).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let layer = hex::encode(h.finalize());
    std::fs::rename(&tmp, blobs.join(&layer)).unwrap();
    let put = |b: &[u8]| {
        let d = hex::encode(Sha256::digest(b));
        std::fs::write(blobs.join(&d), b).unwrap();
        d
    };
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}"#;
    let cd = put(config);
    let layer_type = if gzip {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    };
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{cd}","size":{}}},"layers":[{{"mediaType":"{layer_type}","digest":"sha256:{layer}","size":{size}}}]}}"#,
        config.len(),
    );
    let md = put(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{md}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"1"}}}}]}}"#,
            manifest.len()
        ),
    )
    .unwrap();
    dir
}

/// Peak resident memory of a process, KiB.
fn hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// skopeo's blob-info cache makes it mount instead of upload; remove it before each measured push.
fn forget_blobs() {
    let _ = std::fs::remove_file("/var/lib/containers/cache/blob-info-cache-v1.boltdb");
}

/// Section 5, the registry: skopeo push and pull of single-layer images against ours and the CNCF
/// distribution registry, each on a fresh server; our peak RSS during the push. Target: ours ÷
/// distribution ≤ 0.9 for each time, peak RSS during the largest push ≤ 64 MiB.
fn docker(work: &Path, sizes: &[u64]) {
    println!();
    println!(
        "{:<44} {:>14} {:>14} {:>10}",
        "registry (skopeo, seconds)", "jcr-reference", "distribution", "ratio"
    );
    for &mib in sizes {
        let layout = oci_layout(work, mib);
        let src = format!("oci:{}:1", layout.display());
        let mut times = Vec::new();
        let mut peak = 0;
        for ours in [true, false] {
            let (child, port) = if ours {
                let port = free_port();
                let child = start_release(port, &work.join(format!("data-{port}")), &[]);
                (child, port)
            } else {
                let (child, _, port) = start_registry(work);
                (child, port)
            };
            let repo = if ours { "docker-local/" } else { "" };
            let mut creds = vec!["--dest-tls-verify=false".to_string()];
            let mut pull_creds = vec!["--src-tls-verify=false".to_string()];
            if ours {
                creds.push("--dest-creds=admin:password".into());
                pull_creds.push("--src-creds=admin:password".into());
            }
            // Median of several runs, each into a new image name (so every push uploads).
            let runs = if mib <= 100 { 5 } else { 3 };
            let (mut pushes, mut pulls) = (Vec::new(), Vec::new());
            for run in 0..runs {
                let dest = format!("docker://127.0.0.1:{port}/{repo}bench/img{run}:1");
                forget_blobs();
                let mut args: Vec<&str> = vec!["copy", "-q"];
                args.extend(creds.iter().map(String::as_str));
                args.extend([src.as_str(), dest.as_str()]);
                pushes.push(run_timed("skopeo", &args, true));
                if ours {
                    peak = peak.max(hwm_kib(child.id()));
                }
                // Pulls land in memory (/dev/shm when there is one), so the client's disk does not
                // decide the figure for both servers alike.
                let shm = std::path::Path::new("/dev/shm");
                let out = if shm.is_dir() {
                    shm.to_path_buf()
                } else {
                    work.to_path_buf()
                }
                .join(format!("jcr-bench-pulled-{port}"));
                let out_ref = format!("oci:{}:1", out.display());
                let mut args: Vec<&str> = vec!["copy", "-q"];
                args.extend(pull_creds.iter().map(String::as_str));
                args.extend([dest.as_str(), out_ref.as_str()]);
                pulls.push(run_timed("skopeo", &args, true));
                let _ = std::fs::remove_dir_all(&out);
            }
            let med = |mut v: Vec<f64>| {
                v.sort_by(|a, b| a.total_cmp(b));
                v[v.len() / 2]
            };
            let (push, pull) = (med(pushes), med(pulls));
            times.push((push, pull));
            stop(child);
        }
        let (ours, theirs) = (times[0], times[1]);
        println!(
            "{:<44} {:>14.2} {:>14.2} {:>9.2}x",
            format!("push {mib} MiB single-layer image (median)"),
            ours.0,
            theirs.0,
            ours.0 / theirs.0
        );
        println!(
            "{:<44} {:>14.2} {:>14.2} {:>9.2}x",
            format!("pull {mib} MiB single-layer image (median)"),
            ours.1,
            theirs.1,
            ours.1 / theirs.1
        );
        println!(
            "{:<44} {:>14.1}",
            format!("server peak RSS during the {mib} MiB push, MiB"),
            peak as f64 / 1024.0
        );
        let _ = std::fs::remove_dir_all(&layout);
    }
}

/// Section 4, what authentication costs: the same file-info request anonymously and with each
/// credential (password hashes are bcrypt, so this shows the credential cache at work). Target:
/// anonymous req/s divided by authenticated req/s at most 2 for every method.
fn auth_cost(secs: u64) {
    let port = free_port();
    let t = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
        .args([
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--anonymous-access",
            "true",
        ])
        .env("JCR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jcr-reference");
    wait_200(port, "/artifactory/api/system/ping", t);
    let base = format!("http://127.0.0.1:{port}/artifactory");
    let curl = |args: &[&str]| -> String {
        let out = Command::new("curl")
            .args(["-sS", "-u", "admin:password"])
            .args(args)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    curl(&["-T", "-", &format!("{base}/generic-local/auth/small.txt")]);
    let field = |json: &str, name: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(json).expect("JSON reply");
        v[name].as_str().expect("field").to_string()
    };
    let key = field(
        &curl(&["-X", "POST", &format!("{base}/api/security/apiKey")]),
        "apiKey",
    );
    let token = field(
        &curl(&[
            "-X",
            "POST",
            "-d",
            "username=admin",
            "-d",
            "scope=member-of-groups:readers",
            &format!("{base}/api/security/token"),
        ]),
        "access_token",
    );
    let url = format!("{base}/api/storage/generic-local/auth/small.txt");
    let anon = wrk_with(&url, None, secs);
    println!();
    println!(
        "{:<44} {:>14} {:>14} {:>10}",
        "authentication (req/s)", "authenticated", "anonymous", "anon/auth"
    );
    for (name, header) in [
        (
            "Basic user:password (bcrypt, cached)",
            format!("Authorization: Basic {AUTH}"),
        ),
        ("X-JFrog-Art-Api", format!("X-JFrog-Art-Api: {key}")),
        (
            "Bearer access token (RS256)",
            format!("Authorization: Bearer {token}"),
        ),
    ] {
        let authed = wrk_with(&url, Some(header), secs);
        println!(
            "{name:<44} {authed:>14.1} {anon:>14.1} {:>9.2}x",
            anon / authed.max(1.0)
        );
    }
    stop(child);
}

/// CPU seconds a process has used so far (user + system, from /proc).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// Waits until a server has used no CPU for half a second (its background work is done).
fn settle(pid: u32) {
    let mut last = cpu_secs(pid);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = cpu_secs(pid);
        if now - last < 0.02 {
            return;
        }
        last = now;
    }
}

/// A registry under test: ours (the repository-path method) or distribution.
struct Peer {
    child: Child,
    port: u16,
    ours: bool,
}

impl Peer {
    fn start(work: &Path, ours: bool) -> Peer {
        if ours {
            let port = free_port();
            let child = start_release(port, &work.join(format!("data-{port}")), &[]);
            Peer { child, port, ours }
        } else {
            let (child, _, port) = start_registry(work);
            Peer { child, port, ours }
        }
    }

    /// `docker://` reference of image `name`.
    fn image(&self, name: &str) -> String {
        let repo = if self.ours { "docker-local/" } else { "" };
        format!("docker://127.0.0.1:{}/{repo}{name}:1", self.port)
    }

    /// The URL of blob `sha256` of image `name`.
    fn blob_url(&self, name: &str, sha256: &str) -> String {
        let repo = if self.ours { "docker-local/" } else { "" };
        format!(
            "http://127.0.0.1:{}/v2/{repo}{name}/blobs/sha256:{sha256}",
            self.port
        )
    }

    fn creds(&self, flag: &str) -> Vec<String> {
        let mut v = vec![format!("--{flag}-tls-verify=false")];
        if self.ours {
            v.push(format!("--{flag}-creds=admin:password"));
        }
        v
    }
}

/// Runs every command at once; returns the wall time from the first start to the last exit.
fn all_at_once(cmds: Vec<Command>) -> f64 {
    let t = Instant::now();
    let children: Vec<Child> = cmds
        .into_iter()
        .map(|mut c| {
            c.stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a concurrent client failed");
    }
    t.elapsed().as_secs_f64()
}

/// The first `GET` of an artifact right after it was written, as a CI job does it (no warm-up
/// read in between): a generic deploy to ours against a monolithic blob upload to distribution,
/// each run a new file of `mib` MiB; medians of 3. Also the deploy itself against `md5sum`. Target:
/// ours ÷ distribution ≥ 1 for the first read, deploy ÷ md5sum kept.
fn first_read(work: &Path, mib: u64) {
    use sha2::{Digest, Sha256};
    println!();
    println!(
        "{:<44} {:>14} {:>14} {:>10}",
        "first read after a write (MiB/s)", "jcr-reference", "baseline", "ratio"
    );
    let bytes = (mib << 20) as f64;
    let rate = |secs: f64| bytes / secs / (1 << 20) as f64;
    let ours = Peer::start(work, true);
    let theirs = Peer::start(work, false);
    let (mut deploys, mut md5s, mut reads, mut peer_reads) = (vec![], vec![], vec![], vec![]);
    for run in 0..3u64 {
        let file = work.join(format!("first-{run}.bin"));
        write_seeded(&file, mib << 20, 100 + run);
        let f = file.to_str().unwrap();
        let _ = run_timed("cat", &[f], true); // the client's copy is in the page cache
        let _ = Command::new("sync").status(); // and on the disk, like the servers' earlier writes
        md5s.push(run_timed("md5sum", &[f], true));
        let url = format!(
            "http://127.0.0.1:{}/artifactory/generic-local/first/{run}.bin",
            ours.port
        );
        let auth = format!("Authorization: Basic {AUTH}");
        deploys.push(curl_timed(&[
            "-f",
            "-o",
            "/dev/null",
            "-H",
            &auth,
            "-T",
            f,
            &url,
        ]));
        reads.push(curl_timed(&["-f", "-o", "/dev/null", "-H", &auth, &url]));
        let mut h = Sha256::new();
        let mut input = std::fs::File::open(&file).unwrap();
        std::io::copy(&mut input, &mut h).unwrap();
        let sha = hex::encode(h.finalize());
        registry_upload(theirs.port, &file, &sha).expect("distribution upload");
        peer_reads.push(curl_timed(&[
            "-f",
            "-o",
            "/dev/null",
            &format!(
                "http://127.0.0.1:{}/v2/bench/blobs/sha256:{sha}",
                theirs.port
            ),
        ]));
        let _ = std::fs::remove_file(&file);
    }
    row(
        &format!("first GET of a {mib} MiB artifact (median of 3)"),
        rate(med(&reads)),
        Some(rate(med(&peer_reads))),
        "distribution",
        true,
    );
    row(
        "its deploy vs md5sum of the file (medians)",
        rate(med(&deploys)),
        Some(rate(med(&md5s))),
        "md5sum",
        true,
    );
    stop(ours.child);
    stop(theirs.child);
}

/// Registry load where the server is the bottleneck: 16 concurrent skopeo pushes and then pulls of
/// 16 different 50 MiB images, and 64 concurrent curl `GET`s of their blobs, against ours and
/// distribution, each on a fresh server; wall time and server CPU seconds, medians of 3 rounds;
/// our peak RSS during the pushes. Targets: pulls and GETs ≤ 0.7x distribution in wall and CPU,
/// pushes ≤ 0.8x in wall, RSS ≤ 128 MiB.
fn registry_load(work: &Path) {
    const IMAGES: u64 = 16;
    const MIB: u64 = 50;
    println!();
    println!(
        "{:<44} {:>14} {:>14} {:>10}",
        "registry under load (median of 3)", "jcr-reference", "distribution", "ratio"
    );
    let layouts: Vec<(PathBuf, String)> = (0..IMAGES)
        .map(|i| {
            let dir = oci_layout_with(work, MIB, 1000 + i, true);
            let index = std::fs::read_to_string(dir.join("index.json")).unwrap();
            let md = index.split("sha256:").nth(1).unwrap()[..64].to_string();
            let manifest = std::fs::read_to_string(dir.join("blobs/sha256").join(&md)).unwrap();
            let layer = manifest.rsplit("sha256:").next().unwrap()[..64].to_string();
            (dir, layer)
        })
        .collect();
    // Per server: (push wall, push cpu, pull wall, pull cpu, get wall, get cpu), peak RSS.
    // RSS once the load has stopped, and VmHWM, per round: [ours, distribution].
    let (mut rss_after, mut hwm): ([Vec<f64>; 2], [Vec<f64>; 2]) = Default::default();
    let mut figures = Vec::new();
    let mut peak_rss = 0;
    for ours in [true, false] {
        let (mut pw, mut pc, mut lw, mut lc, mut gw, mut gc) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for round in 0..3 {
            // Every round starts with the disk done with what earlier sections wrote.
            let _ = Command::new("sync").status();
            let p = Peer::start(work, ours);
            let name = |i: u64| format!("load/r{round}/img{i}");
            forget_blobs();
            let pushes = layouts
                .iter()
                .enumerate()
                .map(|(i, (dir, _))| {
                    let mut c = Command::new("skopeo");
                    c.args(["copy", "-q"])
                        .args(p.creds("dest"))
                        .arg(format!("oci:{}:1", dir.display()))
                        .arg(p.image(&name(i as u64)));
                    c
                })
                .collect();
            let cpu0 = cpu_secs(p.child.id());
            let sampling = Arc::new(AtomicBool::new(true));
            let peak = Arc::new(AtomicU64::new(0));
            let sampler = {
                let (peak, sampling, pid) = (peak.clone(), sampling.clone(), p.child.id());
                std::thread::spawn(move || {
                    while sampling.load(Ordering::Relaxed) {
                        peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
            };
            pw.push(all_at_once(pushes));
            sampling.store(false, Ordering::Relaxed);
            sampler.join().unwrap();
            if ours {
                peak_rss = peak_rss.max(peak.load(Ordering::Relaxed));
            }
            let cpu1 = cpu_secs(p.child.id());
            pc.push(cpu1 - cpu0);
            // Background work after the pushes (our SHA-1/MD5 fill-in) finishes outside the pulls.
            settle(p.child.id());
            let shm = Path::new("/dev/shm");
            let out_root = if shm.is_dir() {
                shm.to_path_buf()
            } else {
                work.to_path_buf()
            };
            let pulls = (0..IMAGES)
                .map(|i| {
                    let out = out_root.join(format!("jcr-bench-load-{}-{i}", p.port));
                    let mut c = Command::new("skopeo");
                    c.args(["copy", "-q"])
                        .args(p.creds("src"))
                        .arg(p.image(&name(i)))
                        .arg(format!("oci:{}:1", out.display()));
                    c
                })
                .collect();
            let cpu2 = cpu_secs(p.child.id());
            lw.push(all_at_once(pulls));
            lc.push(cpu_secs(p.child.id()) - cpu2);
            for i in 0..IMAGES {
                let _ = std::fs::remove_dir_all(
                    out_root.join(format!("jcr-bench-load-{}-{i}", p.port)),
                );
            }
            let gets = (0..64u64)
                .map(|k| {
                    let i = k % IMAGES;
                    let mut c = Command::new("curl");
                    c.args(["-sS", "-f", "--http1.1", "-o", "/dev/null"]);
                    if ours {
                        c.args(["-H", &format!("Authorization: Basic {AUTH}")]);
                    }
                    c.arg(p.blob_url(&name(i), &layouts[i as usize].1));
                    c
                })
                .collect();
            settle(p.child.id());
            let cpu3 = cpu_secs(p.child.id());
            gw.push(all_at_once(gets));
            gc.push(cpu_secs(p.child.id()) - cpu3);
            // What the server keeps once the load has stopped, and its peak over the round.
            settle(p.child.id());
            rss_after[usize::from(!ours)].push(rss_kib(p.child.id()) as f64 / 1024.0);
            hwm[usize::from(!ours)].push(hwm_kib(p.child.id()) as f64 / 1024.0);
            stop(p.child);
        }
        figures.push([med(&pw), med(&pc), med(&lw), med(&lc), med(&gw), med(&gc)]);
    }
    let (o, t) = (figures[0], figures[1]);
    let line = |what: &str, a: f64, b: f64| {
        println!("{what:<44} {a:>14.2} {b:>14.2} {:>9.2}x", a / b);
    };
    line("16 concurrent pushes, wall s", o[0], t[0]);
    line("16 concurrent pushes, server CPU s", o[1], t[1]);
    line("16 concurrent pulls, wall s", o[2], t[2]);
    line("16 concurrent pulls, server CPU s", o[3], t[3]);
    line("64 concurrent blob GETs (curl), wall s", o[4], t[4]);
    line("64 concurrent blob GETs, server CPU s", o[5], t[5]);
    println!(
        "{:<44} {:>14.1}",
        "server peak RSS during the pushes, MiB",
        peak_rss as f64 / 1024.0
    );
    line(
        "server peak RSS over the round (VmHWM), MiB",
        med(&hwm[0]),
        med(&hwm[1]),
    );
    line(
        "server RSS after the load, settled, MiB",
        med(&rss_after[0]),
        med(&rss_after[1]),
    );
    for (dir, _) in layouts {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn row(name: &str, ours: f64, base: Option<f64>, _what: &str, _higher_better: bool) {
    match base {
        Some(b) if b > 0.0 => println!("{name:<44} {ours:>14.1} {b:>14.1} {:>9.2}x", ours / b),
        _ => println!("{name:<44} {ours:>14.1} {:>14} {:>10}", "-", "-"),
    }
}

fn row_ms(name: &str, ours: Duration, base: Option<Duration>, what: &str) {
    row(
        name,
        ours.as_secs_f64() * 1000.0,
        base.map(|b| b.as_secs_f64() * 1000.0),
        what,
        false,
    );
}

/// The median of some figures.
fn med(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn median_f(n: usize, mut f: impl FnMut() -> f64) -> f64 {
    let mut v: Vec<f64> = (0..n).map(|_| f()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[n / 2]
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `GET path` until it answers 200; returns the time since `since`.
fn wait_200(port: u16, path: &str, since: Instant) -> Duration {
    poll_200(port, path, "", since, 20)
}

/// Polls `GET path` as admin until it answers 200 (60 s at most: a large data directory loads
/// first); the time since `since`.
fn wait_200_auth(port: u16, path: &str, since: Instant) -> Duration {
    poll_200(
        port,
        path,
        &format!("Authorization: Basic {AUTH}\r\n"),
        since,
        60,
    )
}

fn poll_200(port: u16, path: &str, headers: &str, since: Instant, secs: u64) -> Duration {
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n");
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let mut buf = [0u8; 16];
            if s.write_all(req.as_bytes()).is_ok()
                && s.read(&mut buf).is_ok_and(|n| n >= 12)
                && &buf[9..12] == b"200"
            {
                return since.elapsed();
            }
        }
        if since.elapsed() > Duration::from_secs(secs) {
            panic!("no 200 from port {port}{path} within {secs} s");
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn start_ours() -> (Child, Duration, u16) {
    let port = free_port();
    let t = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .env("JCR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jcr-reference");
    let d = wait_200(port, "/artifactory/api/system/ping", t);
    (child, d, port)
}

fn start_registry(work: &Path) -> (Child, Duration, u16) {
    let port = free_port();
    let root = work.join(format!("registry-{port}"));
    let cfg = work.join(format!("registry-{port}.yml"));
    std::fs::write(
        &cfg,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            root.display()
        ),
    )
    .unwrap();
    let t = Instant::now();
    let child = Command::new("docker-registry")
        .args(["serve", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start docker-registry");
    let d = wait_200(port, "/v2/", t);
    (child, d, port)
}

fn stop(mut c: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status();
    let _ = c.wait();
}

/// Bytes the allocator has handed out and not had back (glibc `mallinfo2`): small allocations from
/// its arenas plus large ones it maps separately (big vectors and hash tables).
fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let m = unsafe { libc::mallinfo2() };
    m.uordblks + m.hblkhd
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Writes `len` pseudo-random bytes (xorshift; incompressible enough, fast to make).
fn write_file(path: &PathBuf, len: u64) {
    write_seeded(path, len, 0)
}

/// [`write_file`] with other bytes for every `seed`.
fn write_seeded(path: &PathBuf, len: u64, seed: u64) {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

fn run_timed(cmd: &str, args: &[&str], quiet: bool) -> f64 {
    let t = Instant::now();
    let out = Command::new(cmd)
        .args(args)
        .stdout(if quiet {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .status()
        .unwrap();
    assert!(out.success(), "{cmd} failed");
    t.elapsed().as_secs_f64()
}

fn curl_timed(args: &[&str]) -> f64 {
    let mut full = vec!["-sS", "--http1.1"];
    full.extend_from_slice(args);
    run_timed("curl", &full, true)
}

/// A monolithic blob upload to distribution: POST an upload session, then PUT the bytes with the digest.
fn registry_upload(port: u16, file: &Path, sha256: &str) -> Option<f64> {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            &format!("http://127.0.0.1:{port}/v2/bench/blobs/uploads/"),
        ])
        .output()
        .ok()?;
    let headers = String::from_utf8_lossy(&out.stdout).to_string();
    let location = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("location:"))?
        .split_once(':')?
        .1
        .trim()
        .to_string();
    let sep = if location.contains('?') { '&' } else { '?' };
    let url = if location.starts_with("http") {
        location.clone()
    } else {
        format!("http://127.0.0.1:{port}{location}")
    };
    let url = format!("{url}{sep}digest=sha256:{sha256}");
    Some(curl_timed(&[
        "-f",
        "-o",
        "/dev/null",
        "-H",
        "Content-Type: application/octet-stream",
        "-T",
        file.to_str().unwrap(),
        &url,
    ]))
}

fn wrk(url: &str, auth: Option<&str>, secs: u64) -> f64 {
    wrk_with(url, auth.map(|a| format!("Authorization: Basic {a}")), secs)
}

/// wrk with one extra request header (`Name: value`).
fn wrk_with(url: &str, header: Option<String>, secs: u64) -> f64 {
    let mut args = vec![
        "-t2".to_string(),
        "-c32".into(),
        format!("-d{secs}s"),
        url.to_string(),
    ];
    if let Some(h) = header {
        args.insert(0, h);
        args.insert(0, "-H".into());
    }
    let out = Command::new("wrk").args(&args).output().expect("wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// A build-info document with `n` module artifacts (`changed` of them with other checksums than
/// run 0's), as a CI plugin publishes a large build.
fn big_build(name: &str, number: usize, n: usize, changed: usize) -> Vec<u8> {
    let hex = |i: usize, len: usize| format!("{i:0>len$x}");
    let artifacts: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let v = if i < changed { i + number * n } else { i };
            serde_json::json!({"type": "jar", "name": format!("lib/artifact-{i}.jar"),
                "path": format!("org/example/artifact-{i}.jar"),
                "sha1": hex(v, 40), "sha256": hex(v, 64), "md5": hex(v, 32)})
        })
        .collect();
    let doc = serde_json::json!({
        "version": "1.0.1", "name": name, "number": number.to_string(),
        "started": format!("2026-11-01T10:{:02}:{:02}.000+0000", number / 60, number % 60),
        "agent": {"name": "bench", "version": "1"},
        "modules": [{"id": "bench:module", "type": "maven", "artifacts": artifacts}],
        "properties": {"buildInfo.env.RUN": number.to_string()}
    });
    serde_json::to_vec(&doc).expect("JSON")
}

/// The Builds API: a 5,000-artifact build's upload, its first GET and a diff against the run
/// before (medians of 11, each on a new run, so every read is the first after its write), next
/// to a plain deploy and GET of the same bytes as a generic file (the storage underneath); then
/// AQL `builds.find` over 10,000 builds, each query after one more upload, and the first after a
/// restart. The store is durable (`--data-dir`), as a CI service keeps its data.
fn builds_bench() {
    let data = tempfile::tempdir().expect("data dir");
    let port = free_port();
    let start = || start_release(port, data.path(), &[]);
    let child = start();
    let base = format!("http://127.0.0.1:{port}/artifactory");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = reqwest::Client::new();
    let timed = |req: reqwest::RequestBuilder| -> (f64, u16) {
        rt.block_on(async {
            let t = Instant::now();
            let r = req
                .basic_auth("admin", Some("password"))
                .send()
                .await
                .expect("the server answers");
            let status = r.status().as_u16();
            let _ = r.bytes().await;
            (t.elapsed().as_secs_f64() * 1000.0, status)
        })
    };
    let (mut put, mut get, mut diff, mut raw_put, mut raw_get) =
        (vec![], vec![], vec![], vec![], vec![]);
    let first = big_build("bench-big", 0, 5000, 0);
    let (_, s) = timed(client.put(format!("{base}/api/build")).body(first.clone()));
    assert_eq!(s, 204, "upload of the first big build");
    for run in 1..=11 {
        let doc = big_build("bench-big", run, 5000, 500);
        let (ms, s) = timed(client.put(format!("{base}/api/build")).body(doc.clone()));
        assert_eq!(s, 204);
        put.push(ms);
        let (ms, s) = timed(client.get(format!("{base}/api/build/bench-big/{run}")));
        assert_eq!(s, 200);
        get.push(ms);
        let (ms, s) =
            timed(client.get(format!("{base}/api/build/bench-big/{run}?diff={}", run - 1)));
        assert_eq!(s, 200);
        diff.push(ms);
        let url = format!("{base}/generic-local/bench/raw-{run}.json");
        let (ms, s) = timed(client.put(&url).body(doc));
        assert_eq!(s, 201);
        raw_put.push(ms);
        let (ms, _) = timed(client.get(&url));
        raw_get.push(ms);
    }
    let doc_kib = first.len() as f64 / 1024.0;
    println!();
    println!(
        "{:<44} {:>14} {:>14} {:>10}",
        format!("builds, 5,000 artifacts ({doc_kib:.0} KiB), ms"),
        "jcr-reference",
        "generic file",
        "ratio"
    );
    row(
        "upload PUT /api/build (median of 11)",
        med(&put),
        Some(med(&raw_put)),
        "deploy",
        false,
    );
    row(
        "first GET of the build (median of 11)",
        med(&get),
        Some(med(&raw_get)),
        "GET",
        false,
    );
    row(
        "diff against the run before (median of 11)",
        med(&diff),
        Some(med(&raw_get)),
        "GET",
        false,
    );

    // 10,000 small builds, then queries each after one more upload.
    let small = |i: usize| {
        serde_json::to_vec(&serde_json::json!({
            "name": format!("bench-small-{}", i % 100), "number": i.to_string(),
            "started": "2026-11-01T10:00:00.000+0000",
            "modules": [{"id": "m", "artifacts": [{"name": "a.jar", "sha1": format!("{i:0>40x}")}]}]
        }))
        .expect("JSON")
    };
    let t = Instant::now();
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for chunk in (0..10_000).collect::<Vec<_>>().chunks(625) {
            let (client, base, docs) = (
                client.clone(),
                base.clone(),
                chunk.iter().map(|&i| small(i)).collect::<Vec<_>>(),
            );
            set.spawn(async move {
                for d in docs {
                    let r = client
                        .put(format!("{base}/api/build"))
                        .basic_auth("admin", Some("password"))
                        .body(d)
                        .send()
                        .await
                        .expect("upload");
                    assert_eq!(r.status(), 204);
                }
            });
        }
        while set.join_next().await.is_some() {}
    });
    let loaded = t.elapsed().as_secs_f64();
    let query = r#"builds.find({"number":"4242"})"#;
    let aql = |q: &str| {
        client
            .post(format!("{base}/api/search/aql"))
            .body(q.to_string())
    };
    let (cold, s) = timed(aql(query));
    assert_eq!(s, 200);
    let mut warm = Vec::new();
    for i in 0..21 {
        let (_, s) = timed(
            client
                .put(format!("{base}/api/build"))
                .body(small(10_000 + i)),
        );
        assert_eq!(s, 204);
        warm.push(timed(aql(query)).0);
    }
    let items_query =
        r#"items.find({"repo":"artifactory-build-info","name":"4242-1761991200000.json"})"#;
    let items: Vec<f64> = (0..21).map(|_| timed(aql(items_query)).0).collect();
    // After a restart nothing is remembered: the first lookup reads all 10,000 documents.
    stop(child);
    let child = start();
    let (restarted, s) = timed(aql(query));
    assert_eq!(s, 200);
    println!(
        "{:<44} {:>14} {:>14} {:>10}",
        format!("AQL over 10,000 builds ({loaded:.1} s to upload), ms"),
        "builds.find",
        "items.find",
        "ratio"
    );
    row(
        "first query after the 10,000 uploads",
        cold,
        None,
        "",
        false,
    );
    row(
        "first query after a restart (reads them all)",
        restarted,
        None,
        "",
        false,
    );
    row(
        "query after one more upload (median of 21)",
        med(&warm),
        Some(med(&items)),
        "items.find of the document",
        false,
    );
    stop(child);
}

/// A release server on a free port with its own data directory (kept while the guard lives).
struct Proc {
    child: std::process::Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release server on `port` with its data in `data` and `extra` flags, once it answers.
fn start_release(port: u16, data: &Path, extra: &[&std::ffi::OsStr]) -> std::process::Child {
    let t = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
        .args(["--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .args(extra)
        .env("JCR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jcr-reference");
    wait_200(port, "/artifactory/api/system/ping", t);
    child
}

fn spawn_server() -> Proc {
    let data = tempfile::tempdir().expect("data dir");
    let port = free_port();
    let child = start_release(port, data.path(), &[]);
    Proc {
        child,
        base: format!("http://127.0.0.1:{port}/artifactory"),
        _data: data,
    }
}

/// Remote repositories: a `size_mib` file through a generic remote (first GET fetches and caches,
/// second serves the cache) against the upstream's own GET in the same run; 100 concurrent GETs of
/// one uncached file; index.yaml of 10,000 chart versions.
fn remote_bench(size_mib: u64) {
    let upstream = spawn_server();
    let ours = spawn_server();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = reqwest::Client::new();
    let auth = |r: reqwest::RequestBuilder| r.basic_auth("admin", Some("password"));
    let send = |r: reqwest::RequestBuilder| -> (u16, Vec<u8>) {
        rt.block_on(async {
            let r = auth(r).send().await.expect("the server answers");
            let s = r.status().as_u16();
            (s, r.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
        })
    };
    // Reads a GET's body to the end, counting bytes (nothing kept): seconds and bytes.
    let drain = |url: String| -> (f64, u64) {
        rt.block_on(async {
            let t = Instant::now();
            let mut r = auth(client.get(url))
                .send()
                .await
                .expect("the server answers");
            assert_eq!(r.status(), 200);
            let mut n = 0u64;
            while let Some(c) = r.chunk().await.expect("the body arrives") {
                n += c.len() as u64;
            }
            (t.elapsed().as_secs_f64(), n)
        })
    };
    let (s, body) = send(
        client
            .put(format!("{}/api/repositories/up", ours.base))
            .json(&serde_json::json!({"rclass": "remote", "url": format!("{}/generic-local", upstream.base), "username": "admin", "password": "password"})),
    );
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    let bytes = size_mib << 20;
    let deploy = |path: &str, seed: u8| {
        let chunk = bytes::Bytes::from(vec![seed; 1 << 20]);
        let chunks = futures_util::stream::iter(
            (0..size_mib).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
        );
        let (s, _) = send(
            client
                .put(format!("{}/generic-local/{path}", upstream.base))
                .body(reqwest::Body::wrap_stream(chunks)),
        );
        assert_eq!(s, 201);
    };
    let mib_s = |secs: f64| bytes as f64 / (1 << 20) as f64 / secs;
    let (mut up, mut first, mut second) = (vec![], vec![], vec![]);
    for run in 0..3u8 {
        let path = format!("big-{run}.bin");
        deploy(&path, run);
        // The upstream's own first read after its write, then ours (fetch + cache), then the cache.
        let (t, n) = drain(format!("{}/generic-local/{path}", upstream.base));
        assert_eq!(n, bytes);
        up.push(t);
        let (t, n) = drain(format!("{}/up/{path}", ours.base));
        assert_eq!(n, bytes);
        first.push(t);
        let (t, n) = drain(format!("{}/up/{path}", ours.base));
        assert_eq!(n, bytes);
        second.push(t);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (u, f, c) = (med(&mut up), med(&mut first), med(&mut second));
    println!("remote repository, {size_mib} MiB file, median of 3 (each run a new file):");
    println!("  upstream GET               {:8.1} MiB/s", mib_s(u));
    println!(
        "  first GET (fetch + cache)  {:8.1} MiB/s  {:.2}x upstream (target >= 0.8)",
        mib_s(f),
        u / f
    );
    println!(
        "  second GET (cache)         {:8.1} MiB/s  {:.2}x upstream (target >= 1.0)",
        mib_s(c),
        u / c
    );

    // 100 concurrent first GETs of one 8 MiB file: how many reach upstream.
    let (s, _) = send(
        client
            .put(format!("{}/generic-local/shared.bin", upstream.base))
            .body(vec![9u8; 8 << 20]),
    );
    assert_eq!(s, 201);
    let t = Instant::now();
    let oks = rt.block_on(async {
        let gets = (0..100).map(|_| {
            let c = client.clone();
            let url = format!("{}/up/shared.bin", ours.base);
            async move {
                let r = c
                    .get(url)
                    .basic_auth("admin", Some("password"))
                    .send()
                    .await
                    .expect("answer");
                let ok = r.status() == 200;
                ok && r.bytes().await.map(|b| b.len()).unwrap_or(0) == 8 << 20
            }
        });
        futures_util::future::join_all(gets).await
    });
    let wall = t.elapsed();
    let (_, stats) = send(client.get(format!(
        "{}/api/storage/generic-local/shared.bin?stats",
        upstream.base
    )));
    let stats: serde_json::Value = serde_json::from_slice(&stats).expect("stats JSON");
    println!(
        "  100 concurrent GETs of one uncached 8 MiB file: {} of 100 complete in {:.0} ms, upstream served it {} time(s) (target 1)",
        oks.iter().filter(|o| **o).count(),
        wall.as_secs_f64() * 1000.0,
        stats["downloadCount"]
    );

    // index.yaml of 10,000 chart versions (100 charts x 100 versions) in helm-local.
    let t = Instant::now();
    rt.block_on(async {
        use futures_util::StreamExt;
        let puts = (0..10_000u32).map(|i| {
            let c = client.clone();
            let url = format!(
                "{}/helm-local/chart-{}-1.0.{}.tgz",
                ours.base,
                i / 100,
                i % 100
            );
            let body = chart_package(&format!("chart-{}", i / 100), &format!("1.0.{}", i % 100));
            async move {
                let r = c
                    .put(url)
                    .basic_auth("admin", Some("password"))
                    .body(body)
                    .send()
                    .await
                    .expect("answer");
                assert_eq!(r.status(), 201);
            }
        });
        futures_util::stream::iter(puts)
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
    });
    println!(
        "helm: 10,000 chart versions deployed in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let index_ms = || {
        let t = Instant::now();
        let (s, b) = send(client.get(format!("{}/api/helm/helm-local/index.yaml", ours.base)));
        assert_eq!(s, 200);
        assert!(b.len() > 1_000_000);
        t.elapsed().as_secs_f64() * 1000.0
    };
    let cold = index_ms();
    let mut warm: Vec<f64> = (0..21).map(|_| index_ms()).collect();
    warm.sort_by(|a, b| a.total_cmp(b));
    println!(
        "  index.yaml: first read after the writes {cold:.1} ms (reads and parses every chart), then p50 {:.1} ms, p90 {:.1} ms (target p50 < 20 ms)",
        warm[10], warm[18]
    );
}

/// A small chart package.
fn chart_package(name: &str, version: &str) -> Vec<u8> {
    let yaml = format!("apiVersion: v2\nname: {name}\nversion: {version}\ndescription: bench\n");
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(yaml.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, format!("{name}/Chart.yaml"), yaml.as_bytes())
        .expect("tar in memory");
    let raw = tar.into_inner().expect("tar in memory");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).expect("gzip in memory");
    gz.finish().expect("gzip in memory")
}

/// A server on `data` with its export root at `root`.
fn start_with_root(data: &Path, root: &Path) -> (Child, u16) {
    let port = free_port();
    let child = start_release(port, data, &["--export-root".as_ref(), root.as_os_str()]);
    (child, port)
}

/// `POST` as admin; panics unless 200. Returns the seconds it took.
fn post_200(port: u16, path: &str, json: Option<&str>) -> f64 {
    let url = format!("http://127.0.0.1:{port}/artifactory/{path}");
    let mut args = vec![
        "-sS",
        "-u",
        "admin:password",
        "-X",
        "POST",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ];
    if let Some(j) = json {
        args.extend(["-H", "Content-Type: application/json", "-d", j]);
    }
    args.push(&url);
    let t = Instant::now();
    let out = Command::new("curl").args(&args).output().expect("curl");
    let secs = t.elapsed().as_secs_f64();
    let code = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        code,
        "200",
        "POST {path}: {code} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    secs
}

/// `cp -r` of `from` into `to`, synced: the baseline for moving the same files.
fn cp_synced(from: &Path, to: &Path) -> f64 {
    let t = Instant::now();
    let ok = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cp -r");
    let _ = Command::new("sync").status();
    t.elapsed().as_secs_f64()
}

/// Makes `<dir>/generic-local/` with `n` small files, 1,000 to a folder, or one file of `mib` MiB.
fn export_source(dir: &Path, n: usize, mib: Option<u64>) {
    let repo = dir.join("generic-local");
    std::fs::create_dir_all(&repo).unwrap();
    match mib {
        Some(m) => write_file(&repo.join("big.bin"), m << 20),
        None => {
            for i in 0..n {
                let d = repo.join(format!("d{}", i / 1000));
                if i % 1000 == 0 {
                    std::fs::create_dir_all(&d).unwrap();
                }
                std::fs::write(d.join(format!("f{i}.txt")), format!("item {i}\n")).unwrap();
            }
        }
    }
}

/// Section "import and export": `POST /api/import/repositories` and `POST /api/export/system` of
/// `items[0]` small files and of one `mib` MiB file (each on a fresh server, so its peak RSS is the
/// operation's), against `cp -r` + `sync` of the same files; then restarts on a data directory
/// holding each of `items` (written by `bench::seed_data_dir`), time to the first ping and to the
/// first storage answer (the cold path a user meets), against a restart on an empty data directory.
/// Target: restart under 2 s at 1M items. Medians of 3 runs (5 for restarts).
fn import_export_bench(work: &Path, items: &[usize], mib: u64) {
    let n = items.first().copied().unwrap_or(100_000);
    println!(
        "{:<44} {:>14} {:>14} {:>10}",
        "measure (s, MiB)", "jcr-reference", "cp -r + sync", "ratio"
    );
    for (label, count, big) in [
        (format!("{n} files"), n, None),
        (format!("one {mib} MiB file"), 1, Some(mib)),
    ] {
        let root = work.join(format!("ie-{count}-{}", big.unwrap_or(0)));
        let src = root.join("src");
        export_source(&src, count, big);
        let (mut imports, mut exports, mut copies) = (Vec::new(), Vec::new(), Vec::new());
        let (mut import_rss, mut export_rss) = (Vec::new(), Vec::new());
        for run in 0..3 {
            let data = root.join(format!("data-{run}"));
            let (child, port) = start_with_root(&data, &root);
            imports.push(post_200(port, "api/import/repositories?path=src", None));
            import_rss.push(hwm_kib(child.id()) as f64 / 1024.0);
            stop(child);
            let (child, port) = start_with_root(&data, &root);
            let doc = format!("{{\"exportPath\": \"out-{run}\"}}");
            exports.push(post_200(port, "api/export/system", Some(&doc)));
            export_rss.push(hwm_kib(child.id()) as f64 / 1024.0);
            stop(child);
            copies.push(cp_synced(&src, &root.join(format!("cp-{run}"))));
            let _ = std::fs::remove_dir_all(root.join(format!("out-{run}")));
            let _ = std::fs::remove_dir_all(root.join(format!("cp-{run}")));
            let _ = std::fs::remove_dir_all(&data);
        }
        let cp = med(&copies);
        row(
            &format!("import of {label}, s"),
            med(&imports),
            Some(cp),
            "",
            false,
        );
        row(
            &format!("export of {label}, s"),
            med(&exports),
            Some(cp),
            "",
            false,
        );
        row(
            "  peak RSS during the import, MiB",
            med(&import_rss),
            None,
            "",
            false,
        );
        row(
            "  peak RSS during the export, MiB",
            med(&export_rss),
            None,
            "",
            false,
        );
        let _ = std::fs::remove_dir_all(&root);
    }
    restart_bench(work, items);
}

/// Restarts on a data directory holding each of `items` (seeded by `bench::seed_data_dir`): to the
/// first ping and to the first storage answer, and the peak RSS, against a restart on an empty data
/// directory. Target: under 2 s at 1M items. Medians of 5.
/// The control API's reset (target: under 50 ms for 10,000 items): a durable server seeded with
/// 10,000 items; each round changes one file, then `POST /_reference/reset` is timed end to end
/// (curl) beside what the server reports; the baseline is a `GET /api/system/ping` in the same
/// rounds. Medians of 9 rounds.
fn reset_bench(work: &Path) {
    let data = work.join("reset-10000");
    jcr_reference::bench::seed_data_dir(&data, 1, 10_000).expect("seed");
    let port = free_port();
    let child = start_release(port, &data, &[]);
    let root = format!("http://127.0.0.1:{port}");
    let post = |path: &str| {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-u",
                "admin:password",
                "-X",
                "POST",
                &format!("{root}{path}"),
            ])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let seeded = post("/_reference/seed");
    assert!(seeded.contains("\"items\""), "seed: {seeded}");
    let (mut ours, mut server, mut ping) = (Vec::new(), Vec::new(), Vec::new());
    let body = work.join("reset-change.txt");
    std::fs::write(&body, b"a change a test makes").expect("write");
    for round in 0..9 {
        let url = format!("{root}/artifactory/repo-0/changed/{round}.txt");
        curl_timed(&[
            "-u",
            "admin:password",
            "-T",
            body.to_str().unwrap_or(""),
            &url,
            "-o",
            "/dev/null",
        ]);
        let t = Instant::now();
        let answer = post("/_reference/reset");
        ours.push(t.elapsed().as_secs_f64() * 1000.0);
        let v: serde_json::Value = serde_json::from_str(&answer).expect("reset answer");
        server.push(v["durationMs"].as_f64().unwrap_or(f64::NAN));
        ping.push(
            curl_timed(&[
                &format!("{root}/artifactory/api/system/ping"),
                "-o",
                "/dev/null",
            ]) * 1000.0,
        );
    }
    stop(child);
    println!(
        "{:<44} {:>14} {:>14} {:>10}",
        "measure (ms)", "jcr-reference", "ping", "ratio"
    );
    row(
        "reset to a 10,000-item seed, end to end, ms",
        med(&ours),
        Some(med(&ping)),
        "",
        false,
    );
    row(
        "  as the server times it, ms",
        med(&server),
        None,
        "",
        false,
    );
    // The first reset after the seed, which the median does not show.
    row(
        "  the first reset, end to end, ms",
        ours[0],
        Some(ping[0]),
        "",
        false,
    );
    let _ = std::fs::remove_dir_all(&data);
}

fn restart_bench(work: &Path, items: &[usize]) {
    let empty = work.join("restart-empty");
    let restart = |data: &Path, probe: &str| -> (f64, f64, f64) {
        let port = free_port();
        let t = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
            .args(["--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data)
            .env("JCR_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jcr-reference");
        let ping = wait_200(port, "/artifactory/api/system/ping", t).as_secs_f64();
        let first = wait_200_auth(port, probe, t).as_secs_f64();
        let rss = hwm_kib(child.id()) as f64 / 1024.0;
        stop(child);
        (ping, first, rss)
    };
    let base: Vec<(f64, f64, f64)> = (0..5)
        .map(|_| restart(&empty, "/artifactory/api/storage/generic-local"))
        .collect();
    let base_ping = med(&base.iter().map(|r| r.0).collect::<Vec<_>>());
    for &count in items {
        let data = work.join(format!("restart-{count}"));
        let t = Instant::now();
        jcr_reference::bench::seed_data_dir(&data, 4, count).expect("seed");
        println!(
            "  (seeded {count} items in {:.1} s; snapshot {:.0} MiB)",
            t.elapsed().as_secs_f64(),
            std::fs::metadata(data.join("meta/state.json")).map_or(0, |m| m.len()) as f64
                / 1048576.0
        );
        let last = count - 1;
        let probe = format!(
            "/artifactory/api/storage/repo-{}/group{}/artifact{}/artifact-{last}.txt",
            last % 4,
            last / 100_000,
            last / 100
        );
        let runs: Vec<(f64, f64, f64)> = (0..5).map(|_| restart(&data, &probe)).collect();
        let pick = |f: fn(&(f64, f64, f64)) -> f64| med(&runs.iter().map(f).collect::<Vec<_>>());
        row(
            &format!("restart with {count} items: to ping, s"),
            pick(|r| r.0),
            Some(base_ping),
            "",
            false,
        );
        row(
            "  to the first storage answer, s",
            pick(|r| r.1),
            None,
            "",
            false,
        );
        row("  peak RSS, MiB", pick(|r| r.2), None, "", false);
        let _ = std::fs::remove_dir_all(&data);
    }
}
