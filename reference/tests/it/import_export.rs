//! System export and import through HTTP: Artifactory's layout, the round trip into a fresh
//! instance (every API answer the same), archives, confinement to the export root, and refusals.

use std::path::Path;

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;
use crate::docker::{push_image, reg};

async fn with_root(root: &Path) -> Srv {
    let root = root.to_path_buf();
    start_with(move |c| c.export_root = Some(root)).await
}

async fn post(s: &Srv, path: &str, doc: Value) -> Answer {
    s.admin(Method::POST, path)
        .header("content-type", "application/json")
        .body(doc.to_string())
        .go()
        .await
}

/// Fills an instance with one of everything an export carries.
async fn seed(s: &Srv) {
    s.deploy("generic-local/libs/a.txt;team=core;qa=done", "alpha")
        .await;
    s.clock.advance(60_000);
    s.deploy("generic-local/libs/b.bin", vec![7u8; 300_000])
        .await;
    s.clock.advance(60_000);
    s.deploy("generic-local/dup/a-copy.txt", "alpha").await;
    let r = s
        .admin(
            Method::PUT,
            "api/storage/generic-local/libs?properties=level=folder",
        )
        .go()
        .await;
    assert_eq!(r.status(), 204, "{}", r.text());
    let r = s
        .admin(Method::PUT, "api/repositories/extra-local")
        .json(&json!({"rclass": "local", "description": "more", "excludesPattern": "**/*.tmp"}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    s.clock.advance(3_600_000);
    s.deploy("extra-local/x/y/z.json", "{\"z\":1}").await;
    let r = s
        .admin(Method::PUT, "api/security/users/carol")
        .json(&json!({"email": "carol@example.test", "password": "Carol-pw1"}))
        .go()
        .await;
    assert_eq!(r.status(), 201, "{}", r.text());
    let r = s
        .admin(Method::PUT, "api/security/groups/devs")
        .json(&json!({"description": "developers"}))
        .go()
        .await;
    assert_eq!(r.status(), 201, "{}", r.text());
    let r = s.admin(Method::PUT, "api/security/permissions/devs-write").json(&json!({"repositories": ["extra-local"], "principals": {"users": {"carol": ["r", "w"]}, "groups": {"devs": ["r"]}}})).go().await;
    assert_eq!(r.status(), 201, "{}", r.text());
    let build = json!({"version": "1.0.1", "name": "app", "number": "7", "started": "2026-11-21T08:00:00.000+0000",
        "modules": [{"id": "m", "artifacts": [{"type": "txt", "sha1": sha1_hex(b"alpha"), "md5": md5_hex(b"alpha"), "name": "a.txt"}]}]});
    let r = s
        .admin(Method::PUT, "api/build")
        .header("content-type", "application/json")
        .body(build.to_string())
        .go()
        .await;
    assert_eq!(r.status(), 204, "{}", r.text());
    push_image(
        s,
        &reg(s, "docker-local", true),
        "team/app",
        "1.0",
        b"layer bytes",
    )
    .await;
    s.clock.advance(1000);
    for _ in 0..2 {
        assert_eq!(s.get("generic-local/libs/a.txt").await.status(), 200);
    }
}

/// The answers a round trip must keep, with this instance's own address taken out.
async fn answers(s: &Srv) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let paths = [
        "api/repositories",
        "api/repositories/extra-local",
        "api/storage/generic-local/libs/a.txt",
        "api/storage/generic-local/libs/b.bin",
        "api/storage/generic-local/libs",
        "api/storage/generic-local/libs?properties",
        "api/storage/generic-local/libs/a.txt?properties",
        "api/storage/generic-local/dup/a-copy.txt",
        "api/storage/generic-local/libs/a.txt?stats",
        "api/storage/extra-local/x/y/z.json",
        "api/storage/generic-local?list&deep=1",
        "api/storage/docker-local/team/app/1.0",
        "api/search/prop?team=core",
        "api/search/artifact?name=a*.txt",
        "api/search/creation?from=0",
        "api/build",
        "api/build/app",
        "api/build/app/7",
        "api/security/users/carol",
        "api/security/groups/devs",
        "api/security/permissions/devs-write",
        "api/docker/docker-local/v2/team/app/tags/list",
        // Downloads count: a.txt's statistics are compared, so only b.bin is downloaded here.
        "generic-local/libs/b.bin",
    ];
    for p in paths {
        let r = s.get(p).await;
        let body = if p.ends_with(".bin") && !p.starts_with("api/") {
            sha1_hex(&r.bytes())
        } else {
            r.text().replace(&s.base, "BASE")
        };
        out.push((p.to_string(), format!("{} {body}", r.status())));
    }
    let aql = "items.find({\"repo\":{\"$match\":\"*\"}}).include(\"repo\",\"path\",\"name\",\"size\",\"sha256\",\"created\",\"created_by\",\"modified\",\"modified_by\",\"property\")";
    let r = s
        .admin(Method::POST, "api/search/aql")
        .header("content-type", "text/plain")
        .body(aql)
        .go()
        .await;
    out.push(("aql".into(), format!("{} {}", r.status(), r.text())));
    let r = s
        .basic(
            Method::GET,
            "api/storage/extra-local/x/y/z.json",
            "carol",
            "Carol-pw1",
        )
        .go()
        .await;
    out.push(("carol reads".into(), r.status().to_string()));
    out
}

fn same(before: &[(String, String)], after: &[(String, String)]) {
    assert_eq!(before.len(), after.len());
    for ((p, x), (_, y)) in before.iter().zip(after) {
        assert_eq!(x, y, "{p} differs");
    }
}

fn folder_of(report: &str) -> String {
    let line = report
        .lines()
        .rev()
        .find(|l| l.contains("completed successfully into"))
        .unwrap_or_else(|| panic!("{report}"));
    line.split('\'').nth(1).unwrap().to_string()
}

#[tokio::test]
async fn an_export_imported_into_a_fresh_instance_answers_the_same() {
    let root = tempfile::tempdir().unwrap();
    let a = with_root(root.path()).await;
    seed(&a).await;
    let before = answers(&a).await;
    assert!(
        before.iter().all(|(_, a)| a.starts_with("200 ")),
        "{before:?}"
    );
    let r = post(&a, "api/export/system", json!({"exportPath": "nightly"})).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(header(r.headers(), "content-type"), Some("text/plain"));
    let text = r.text();
    for line in [
        "Exporting config...",
        "Exporting security...",
        "Exporting repository 'generic-local' (",
        "Exporting repository 'docker-local' (",
        "Exporting repository 'artifactory-build-info' (",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    let dir = folder_of(&text);
    let d = Path::new(&dir);
    assert!(d.starts_with(root.path().canonicalize().unwrap().join("nightly")));
    let name = d.file_name().unwrap().to_str().unwrap();
    assert_eq!(name.len(), "yyyyMMdd.HHmmss".len(), "{name}");
    // Artifactory's layout.
    assert_eq!(
        std::fs::read_to_string(d.join("repositories/generic-local/libs/a.txt")).unwrap(),
        "alpha"
    );
    let md = std::fs::read_to_string(
        d.join("repositories/generic-local/libs/a.txt.artifactory-metadata/artifactory-file.xml"),
    )
    .unwrap();
    assert!(
        md.contains("<artifactory-file>")
            && md.contains(&format!("<actual>{}</actual>", sha1_hex(b"alpha"))),
        "{md}"
    );
    let props = std::fs::read_to_string(
        d.join("repositories/generic-local/libs/a.txt.artifactory-metadata/properties.xml"),
    )
    .unwrap();
    assert!(
        props.contains("<key>team</key>") && props.contains("<value>core</value>"),
        "{props}"
    );
    assert!(d
        .join("repositories/generic-local/libs.artifactory-metadata/artifactory-folder.xml")
        .is_file());
    assert!(std::fs::read_to_string(d.join("artifactory.config.xml"))
        .unwrap()
        .contains("<key>extra-local</key>"));
    assert!(std::fs::read_to_string(d.join("artifactory.properties"))
        .unwrap()
        .starts_with("artifactory.version=7."));
    let security: Value =
        serde_json::from_slice(&std::fs::read(d.join("security/security.json")).unwrap()).unwrap();
    assert_eq!(
        security["security"]["secret"], "",
        "the instance secret stays behind"
    );
    assert!(security["security"]["users"]["carol"].is_object());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("security/security.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "security is readable by the owner only");
    }
    a.server.stop().await;

    let data_b = tempfile::tempdir().unwrap();
    let (r2, d2) = (root.path().to_path_buf(), data_b.path().to_path_buf());
    let b = start_with(move |c| {
        c.export_root = Some(r2);
        c.data_dir = Some(d2);
    })
    .await;
    // A day later: what the import shows are the exported times, not its own.
    b.clock.advance(86_400_000);
    let r = post(&b, "api/import/system", json!({"importPath": dir})).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let text = r.text();
    for line in [
        "Importing config...",
        "Importing security...",
        "Importing repository 'generic-local'...",
        "Full system import completed successfully",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    same(&before, &answers(&b).await);
    // The same content is stored once, however many paths hold it.
    let blobs = walk_files(&data_b.path().join("blobs"));
    let alpha = blobs
        .iter()
        .filter(|p| p.ends_with(&sha256_hex(b"alpha")))
        .count();
    assert_eq!(alpha, 1, "{blobs:?}");
}

fn walk_files(d: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk_files(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

#[tokio::test]
async fn the_settings_examples_name_the_export_root() {
    let root = tempfile::tempdir().unwrap();
    let s = with_root(root.path()).await;
    let r = s.get("api/export/system").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.artifactory.system.ExportSettings+json")
    );
    let shown = root.path().display().to_string();
    assert_eq!(
        r.json::<Value>(),
        json!({"exportPath": shown, "includeMetadata": true, "createArchive": false, "bypassFiltering": false, "verbose": false, "failOnError": true, "failIfEmpty": true, "m2": false, "incremental": false, "excludeContent": false})
    );
    let r = s.get("api/import/system").await;
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.artifactory.system.ImportSettings+json")
    );
    assert_eq!(
        r.json::<Value>(),
        json!({"importPath": shown, "includeMetadata": true, "verbose": false, "failOnError": true, "failIfEmpty": true})
    );
    let r = s
        .basic(Method::GET, "api/export/system", "nobody", "x")
        .go()
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn an_archive_export_imports_back_and_options_shape_the_export() {
    let root = tempfile::tempdir().unwrap();
    let a = with_root(root.path()).await;
    a.deploy("generic-local/keep/a.txt;p=1", "alpha").await;
    a.deploy("generic-local/keep/skip.tmp", "filtered").await;
    let r = a
        .admin(Method::POST, "api/repositories/generic-local")
        .json(&json!({"excludesPattern": "**/*.tmp"}))
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    // An archive: one zip, no folder left beside it.
    let r = post(
        &a,
        "api/export/system",
        json!({"exportPath": "zipped", "createArchive": true}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let zip = folder_of(&r.text());
    assert!(zip.ends_with(".zip"), "{zip}");
    let left: Vec<_> = std::fs::read_dir(root.path().join("zipped"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    // Filtering: what the repository excludes stays out unless bypassed.
    let r = post(
        &a,
        "api/export/system",
        json!({"exportPath": "plain", "verbose": true}),
    )
    .await;
    let text = r.text();
    assert!(
        text.contains("Exporting generic-local:keep/a.txt"),
        "{text}"
    );
    let plain = folder_of(&text);
    assert!(!Path::new(&plain)
        .join("repositories/generic-local/keep/skip.tmp")
        .exists());
    let r = post(
        &a,
        "api/export/system",
        json!({"exportPath": "plain", "bypassFiltering": true}),
    )
    .await;
    let second = folder_of(&r.text());
    assert_ne!(second, plain, "a second export gets a folder of its own");
    assert!(Path::new(&second)
        .join("repositories/generic-local/keep/skip.tmp")
        .exists());
    // excludeContent and m2: metadata and checksum files, no content.
    let r = post(
        &a,
        "api/export/system",
        json!({"exportPath": "meta", "excludeContent": true, "m2": true, "includeMetadata": true}),
    )
    .await;
    let meta = folder_of(&r.text());
    let f = Path::new(&meta).join("repositories/generic-local/keep/a.txt");
    assert!(!f.exists());
    assert_eq!(
        std::fs::read_to_string(
            Path::new(&meta).join("repositories/generic-local/keep/a.txt.sha1")
        )
        .unwrap(),
        sha1_hex(b"alpha")
    );
    assert!(Path::new(&meta)
        .join("repositories/generic-local/keep/a.txt.artifactory-metadata/artifactory-file.xml")
        .is_file());
    // includeMetadata false: content only.
    let r = post(
        &a,
        "api/export/system",
        json!({"exportPath": "bare", "includeMetadata": false}),
    )
    .await;
    let bare = folder_of(&r.text());
    assert!(Path::new(&bare)
        .join("repositories/generic-local/keep/a.txt")
        .is_file());
    assert!(!Path::new(&bare)
        .join("repositories/generic-local/keep/a.txt.artifactory-metadata")
        .exists());
    // Incremental: always current/, unchanged content left as it is.
    for _ in 0..2 {
        let r = post(
            &a,
            "api/export/system",
            json!({"exportPath": "inc", "incremental": true}),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert!(folder_of(&r.text()).ends_with("inc/current"));
    }

    // The zip imports into a fresh instance.
    let b = with_root(root.path()).await;
    let r = post(&b, "api/import/system", json!({"importPath": zip})).await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert_eq!(b.get("generic-local/keep/a.txt").await.text(), "alpha");
    let props: Value = b
        .get("api/storage/generic-local/keep/a.txt?properties")
        .await
        .json();
    assert_eq!(props["properties"]["p"], json!(["1"]));
    let cfg: Value = b.get("api/repositories/generic-local").await.json();
    assert_eq!(cfg["excludesPattern"], "**/*.tmp");
    let leftovers: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".import-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the extracted archive is removed: {leftovers:?}"
    );
}

#[tokio::test]
async fn paths_outside_the_export_root_and_bad_settings_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
    let s = with_root(root.path()).await;
    let far = outside.path().display().to_string();
    for path in [
        "../escape",
        "a/../../escape",
        far.as_str(),
        "link/inside",
        "//server/share",
        "$HOME",
        "",
    ] {
        let r = post(&s, "api/export/system", json!({"exportPath": path})).await;
        assert_eq!(
            (r.status().as_u16(), r.text()),
            (400, "Invalid Export Directory".to_string()),
            "{path}"
        );
        let r = post(&s, "api/import/system", json!({"importPath": path})).await;
        assert_eq!(
            (r.status().as_u16(), r.text()),
            (400, "Invalid Import Directory".to_string()),
            "{path}"
        );
    }
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside"
    );
    let r = post(
        &s,
        "api/export/system",
        json!({"exportPath": "x", "excludeContnet": true}),
    )
    .await;
    assert_rest_error(r, 400, "Unknown field 'excludeContnet' (the settings have exportPath, includeMetadata, createArchive, bypassFiltering, verbose, failOnError, failIfEmpty, m2, incremental, excludeContent, includeSecurity, excludeArtifactBundles)").await;
    let r = post(
        &s,
        "api/export/system",
        json!({"exportPath": "x", "m2": "yes"}),
    )
    .await;
    assert_rest_error(r, 400, "Field 'm2' must be true or false").await;
    let r = s
        .admin(Method::POST, "api/export/system")
        .body("{not json")
        .go()
        .await;
    assert_eq!(r.status(), 400);
    let r = s.admin(Method::POST, "api/import/repositories").go().await;
    assert_rest_error(r, 400, "You must provide a repository path to import from.").await;
    let r = s
        .admin(Method::POST, "api/import/repositories?path=nowhere")
        .go()
        .await;
    assert_eq!(
        (r.status().as_u16(), r.text()),
        (400, "Directory nowhere does not exist.".to_string())
    );
    let r = s
        .admin(Method::POST, "api/import/repositories?path=../x")
        .go()
        .await;
    assert_rest_error(r, 400, "Invalid Import Directory").await;
    // An empty folder, with and without failIfEmpty.
    std::fs::create_dir(root.path().join("empty")).unwrap();
    let r = post(&s, "api/import/system", json!({"importPath": "empty"})).await;
    assert_eq!(r.status(), 500);
    assert!(
        r.text()
            .contains("500 : The given base directory is either empty, or non-existent"),
        "{}",
        r.text()
    );
    let r = post(
        &s,
        "api/import/system",
        json!({"importPath": "empty", "failIfEmpty": false}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text());
}

/// Writes a zip with the given (name, content) entries.
fn zip_with(path: &Path, entries: &[(&str, &[u8])]) {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, body) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(body).unwrap();
    }
    w.finish().unwrap();
}

#[tokio::test]
async fn hostile_or_damaged_exports_change_nothing_they_should_not() {
    let root = tempfile::tempdir().unwrap();
    let s = with_root(root.path()).await;
    s.deploy("generic-local/kept.txt", "kept").await;
    // An archive entry that climbs out.
    zip_with(
        &root.path().join("evil.zip"),
        &[
            ("artifactory.config.xml", b"<config/>"),
            ("../../evil.txt", b"x"),
        ],
    );
    let r = post(&s, "api/import/system", json!({"importPath": "evil.zip"})).await;
    assert_rest_error(r, 400, "The archive entry '../../evil.txt' would be written outside the folder it is extracted into").await;
    assert!(!root.path().parent().unwrap().join("evil.txt").exists());
    // Not a zip at all.
    std::fs::write(root.path().join("junk.zip"), b"not a zip").unwrap();
    let r = post(&s, "api/import/system", json!({"importPath": "junk.zip"})).await;
    assert_eq!(r.status(), 400);
    // A broken configuration stops the import before anything changes.
    let bad = root.path().join("bad");
    std::fs::create_dir_all(bad.join("repositories/generic-local")).unwrap();
    std::fs::write(
        bad.join("artifactory.config.xml"),
        "<config xmlns=\"http://artifactory.jfrog.org/xsd/3.1.32\"><bogus/></config>",
    )
    .unwrap();
    std::fs::write(bad.join("repositories/generic-local/new.txt"), "new").unwrap();
    let r = post(&s, "api/import/system", json!({"importPath": "bad"})).await;
    assert_eq!(r.status(), 500);
    assert!(
        r.text().contains(
            "500 : Could not import the configuration: Unknown element 'bogus' in 'config'"
        ),
        "{}",
        r.text()
    );
    assert_eq!(s.get("generic-local/kept.txt").await.text(), "kept");
    assert_eq!(s.get("generic-local/new.txt").await.status(), 404);
    // Content that does not match its metadata is refused; the rest imports.
    let repo = root.path().join("one/generic-local");
    std::fs::create_dir_all(repo.join("ok.txt.artifactory-metadata")).unwrap();
    std::fs::create_dir_all(repo.join("lie.txt.artifactory-metadata")).unwrap();
    std::fs::write(repo.join("ok.txt"), "fine").unwrap();
    std::fs::write(repo.join("lie.txt"), "changed").unwrap();
    let md = |sha1: &str| {
        format!("<artifactory-file><created>5</created><createdBy>ci</createdBy><lastModified>6</lastModified><modifiedBy>ci</modifiedBy><lastUpdated>7</lastUpdated><checksumsInfo><checksums><checksum><type>sha1</type><actual>{sha1}</actual></checksum></checksums></checksumsInfo></artifactory-file>")
    };
    std::fs::write(
        repo.join("ok.txt.artifactory-metadata/artifactory-file.xml"),
        md(&sha1_hex(b"fine")),
    )
    .unwrap();
    std::fs::write(
        repo.join("lie.txt.artifactory-metadata/artifactory-file.xml"),
        md(&sha1_hex(b"original")),
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/passwd", repo.join("passwd")).unwrap();
    let r = s
        .admin(Method::POST, "api/import/repositories?path=one&verbose=1")
        .go()
        .await;
    assert_eq!(r.status(), 500);
    let text = r.text();
    assert!(text.contains(&format!("500 : generic-local:lie.txt: Checksum mismatch: the metadata says sha1 {}, the content has {}", sha1_hex(b"original"), sha1_hex(b"changed"))), "{text}");
    #[cfg(unix)]
    assert!(
        text.contains("500 : Refusing the symbolic link 'passwd'"),
        "{text}"
    );
    assert!(text.contains("Importing generic-local:ok.txt"), "{text}");
    assert_eq!(s.get("generic-local/lie.txt").await.status(), 404);
    assert_eq!(s.get("generic-local/passwd").await.status(), 404);
    let info: Value = s.get("api/storage/generic-local/ok.txt").await.json();
    assert_eq!(
        (info["createdBy"].as_str(), info["modifiedBy"].as_str()),
        (Some("ci"), Some("ci"))
    );
    assert_eq!(info["created"], "1970-01-01T00:00:00.005Z");
    // A repository import adds: what was there stays.
    assert_eq!(s.get("generic-local/kept.txt").await.text(), "kept");
    // Into one named repository, from its own folder; without metadata nothing is compared.
    std::fs::create_dir_all(root.path().join("two/sub")).unwrap();
    std::fs::write(root.path().join("two/sub/c.txt"), "see").unwrap();
    std::fs::create_dir_all(root.path().join("two/sub/c.txt.artifactory-metadata")).unwrap();
    std::fs::write(
        root.path()
            .join("two/sub/c.txt.artifactory-metadata/artifactory-file.xml"),
        md(&sha1_hex(b"other")),
    )
    .unwrap();
    let r = s
        .admin(
            Method::POST,
            "api/import/repositories?path=two&repo=generic-local&metadata=0",
        )
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    assert!(
        r.text()
            .starts_with("Starting Repositories Import of generic-local from "),
        "{}",
        r.text()
    );
    assert_eq!(s.get("generic-local/sub/c.txt").await.text(), "see");
    let r = s
        .admin(
            Method::POST,
            "api/import/repositories?path=two&repo=no-such",
        )
        .go()
        .await;
    assert_eq!(r.status(), 500);
    assert!(
        r.text()
            .contains("500 : Repository 'no-such' does not exist"),
        "{}",
        r.text()
    );
    let r = s
        .admin(
            Method::POST,
            "api/import/repositories?path=two&metadata=yes",
        )
        .go()
        .await;
    assert_rest_error(r, 400, "Parameter 'metadata' must be 0 or 1, not 'yes'").await;
}

#[tokio::test]
async fn a_restart_on_the_same_data_directory_answers_the_same() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let (d, r0) = (data.path().to_path_buf(), root.path().to_path_buf());
    let a = start_with(move |c| {
        c.data_dir = Some(d);
        c.export_root = Some(r0);
    })
    .await;
    seed(&a).await;
    // An import and a posted configuration are journalled like any write.
    let dir = root.path().join("in/generic-local/imp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("i.txt"), "imported").unwrap();
    let r = a
        .admin(Method::POST, "api/import/repositories?path=in")
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let xml = a.get("api/system/configuration").await.text();
    let r = a
        .admin(Method::POST, "api/system/configuration")
        .header("content-type", "application/xml")
        .body(
            xml.replace("<anonAccessEnabled>false", "<anonAccessEnabled>true")
                .replace("<fileUploadMaxSizeMb>100", "<fileUploadMaxSizeMb>250"),
        )
        .go()
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let before = answers(&a).await;
    let config = a.get("api/system/configuration").await.text();
    let t = a.clock.now_ms();
    a.server.stop().await;
    let (d, r0) = (data.path().to_path_buf(), root.path().to_path_buf());
    let b = start_with(move |c| {
        c.data_dir = Some(d);
        c.export_root = Some(r0);
    })
    .await;
    b.clock.set(t);
    same(&before, &answers(&b).await);
    assert_eq!(b.get("api/system/configuration").await.text(), config);
    assert!(config.contains("<fileUploadMaxSizeMb>250<"));
    assert_eq!(b.get("generic-local/imp/i.txt").await.text(), "imported");
    let r = b
        .anon(Method::GET, "api/storage/generic-local/imp/i.txt")
        .go()
        .await;
    assert_eq!(
        r.status(),
        200,
        "anonymous access stays on after the restart"
    );
}
