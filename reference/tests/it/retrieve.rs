//! Retrieve artifact, conditional and range requests, side files, folders, trace, archives, delete.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn get_and_head_carry_all_documented_headers() {
    let s = start().await;
    let body = b"0123456789".to_vec();
    s.deploy("generic-local/dir/my file.json", body.clone())
        .await;
    for method in [Method::GET, Method::HEAD] {
        let r = s
            .admin(method.clone(), "generic-local/dir/my%20file.json")
            .go()
            .await;
        let (status, h, text) = parts(r).await;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "etag"), Some(sha1_hex(&body).as_str()));
        assert_eq!(
            header(&h, "x-checksum-sha1"),
            Some(sha1_hex(&body).as_str())
        );
        assert_eq!(
            header(&h, "x-checksum-sha256"),
            Some(sha256_hex(&body).as_str())
        );
        assert_eq!(header(&h, "x-checksum-md5"), Some(md5_hex(&body).as_str()));
        assert_eq!(header(&h, "accept-ranges"), Some("bytes"));
        assert_eq!(header(&h, "content-type"), Some("application/json"));
        assert_eq!(header(&h, "content-length"), Some("10"));
        assert_eq!(
            header(&h, "last-modified"),
            Some("Tue, 14 Nov 2023 22:13:20 GMT")
        );
        assert_eq!(header(&h, "x-artifactory-filename"), Some("my%20file.json"));
        assert_eq!(
            header(&h, "content-disposition"),
            Some("attachment; filename=\"my file.json\"; filename*=UTF-8''my%20file.json")
        );
        assert_eq!(
            text,
            if method == Method::GET {
                "0123456789"
            } else {
                ""
            }
        );
    }
}

#[tokio::test]
async fn conditional_requests_give_304() {
    let s = start().await;
    s.deploy("generic-local/c.txt", "c").await;
    let sha1 = sha1_hex(b"c");
    let r = s
        .admin(Method::GET, "generic-local/c.txt")
        .header("If-None-Match", &sha1)
        .go()
        .await;
    assert_eq!(r.status(), 304);
    // One of several tags, on several lines, is enough.
    let r = s
        .admin(Method::GET, "generic-local/c.txt")
        .header("If-None-Match", format!("abc, {sha1}"))
        .go()
        .await;
    assert_eq!(r.status(), 304);
    let r = s
        .admin(Method::GET, "generic-local/c.txt")
        .header("If-None-Match", "abc")
        .header("If-None-Match", &sha1)
        .go()
        .await;
    assert_eq!(r.status(), 304);
    // A quoted ETag does not match: the comparison is verbatim.
    let r = s
        .admin(Method::GET, "generic-local/c.txt")
        .header("If-None-Match", format!("\"{sha1}\""))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .admin(Method::GET, "generic-local/c.txt")
        .header("If-Modified-Since", "Tue, 14 Nov 2023 22:13:20 GMT")
        .go()
        .await;
    assert_eq!(r.status(), 304);
    let r = s
        .admin(Method::GET, "generic-local/c.txt")
        .header("If-Modified-Since", "Tue, 14 Nov 2023 22:13:19 GMT")
        .go()
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn single_multiple_and_unsatisfiable_ranges() {
    let s = start().await;
    s.deploy("generic-local/r.bin", "abcdefghij").await;
    let r = s
        .admin(Method::GET, "generic-local/r.bin")
        .header("Range", "bytes=2-4")
        .go()
        .await;
    let (status, h, text) = parts(r).await;
    assert_eq!((status, text.as_str()), (206, "cde"));
    assert_eq!(header(&h, "content-range"), Some("bytes 2-4/10"));
    assert_eq!(header(&h, "content-length"), Some("3"));
    let r = s
        .admin(Method::GET, "generic-local/r.bin")
        .header("Range", "bytes=0-0,-2")
        .go()
        .await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 206);
    assert_eq!(
        header(&h, "content-type"),
        Some("multipart/byteranges; boundary=BCD64322345343217845286A")
    );
    assert_eq!(
        text,
        "\r\n--BCD64322345343217845286A\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-0/10\r\n\r\na\
         \r\n--BCD64322345343217845286A\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 8-9/10\r\n\r\nij\
         \r\n--BCD64322345343217845286A--\r\n"
    );
    assert_eq!(
        header(&h, "content-length"),
        Some(text.len().to_string().as_str())
    );
    let r = s
        .admin(Method::GET, "generic-local/r.bin")
        .header("Range", "bytes=10-20")
        .go()
        .await;
    assert_eq!(r.status(), 416);
    assert_eq!(header(r.headers(), "content-range"), Some("bytes */10"));
}

#[tokio::test]
async fn checksum_side_files() {
    let s = start().await;
    s.deploy("generic-local/s.txt", "side").await;
    for (ext, value) in [
        ("sha1", sha1_hex(b"side")),
        ("sha256", sha256_hex(b"side")),
        ("md5", md5_hex(b"side")),
    ] {
        let r = s.get(&format!("generic-local/s.txt.{ext}")).await;
        let (status, _, text) = parts(r).await;
        assert_eq!((status, text), (200, value));
    }
    assert_rest_error(
        s.get("generic-local/none.txt.sha1").await,
        404,
        "File not found.",
    )
    .await;
}

#[tokio::test]
async fn folders_redirect_without_slash_and_list_with_slash() {
    let s = start().await;
    s.deploy("generic-local/d/x.txt", "12345").await;
    s.deploy("generic-local/d/sub/y.txt", "y").await;
    let r = s.get("generic-local/d").await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        header(r.headers(), "location"),
        Some(format!("{}/generic-local/d/", s.base).as_str())
    );
    let r = s.get("generic-local/d/").await;
    let (status, h, html) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), Some("text/html;charset=UTF-8"));
    assert!(
        html.contains("<title>Index of generic-local/d</title>"),
        "{html}"
    );
    assert!(html.contains("<a href=\"../\">../</a>\n<a href=\"sub/\">sub/</a>   14-Nov-2023 22:13    -\n<a href=\"x.txt\">x.txt</a>  14-Nov-2023 22:13  5 bytes\n"), "{html}");
    assert!(
        html.contains("Artifactory/7.98.9 Server at 127.0.0.1 Port"),
        "{html}"
    );
}

#[tokio::test]
async fn missing_file_and_missing_repo() {
    let s = start().await;
    assert_rest_error(s.get("generic-local/nothing").await, 404, "File not found.").await;
    assert_rest_error(
        s.get("no-such-repo/x").await,
        404,
        "Failed to find the repository 'no-such-repo' specified in the request.",
    )
    .await;
}

#[tokio::test]
async fn property_based_resolution() {
    let s = start().await;
    s.deploy("generic-local/p.txt;os=linux", "p").await;
    assert_eq!(s.get("generic-local/p.txt;os=linux").await.status(), 200);
    // Non-mandatory: a missing key still matches, a conflicting value does not.
    assert_eq!(s.get("generic-local/p.txt;arch=x86").await.status(), 200);
    assert_rest_error(
        s.get("generic-local/p.txt;os=win").await,
        404,
        "File not found.",
    )
    .await;
    assert_eq!(s.get("generic-local/p.txt;os+=linux").await.status(), 200);
    assert_rest_error(
        s.get("generic-local/p.txt;arch+=x86").await,
        404,
        "File 'generic-local:p.txt' was found, but mandatory properties do not match.",
    )
    .await;
}

#[tokio::test]
async fn downloads_update_statistics() {
    let s = start().await;
    s.deploy("generic-local/st.txt", "s").await;
    let v: serde_json::Value = s.get("api/storage/generic-local/st.txt?stats").await.json();
    assert_eq!(v["downloadCount"], 0);
    assert_eq!(v["lastDownloaded"], 0);
    assert!(v.get("lastDownloadedBy").is_none());
    s.clock.advance(1000);
    s.get("generic-local/st.txt").await.bytes();
    s.admin(Method::HEAD, "generic-local/st.txt").go().await;
    let r = s.get("api/storage/generic-local/st.txt?stats").await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/vnd.org.jfrog.artifactory.storage.StatsInfo+json")
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        json!({
            "uri": format!("{}/generic-local/st.txt", s.base),
            "downloadCount": 1,
            "lastDownloaded": T0 + 1000,
            "lastDownloadedBy": "admin",
            "remoteDownloadCount": 0,
            "remoteLastDownloaded": 0,
        })
    );
}

async fn stats(s: &Srv, path: &str) -> (serde_json::Value, serde_json::Value) {
    let url = format!("api/storage/generic-local/{path}?stats");
    let v: serde_json::Value = s.get(&url).await.json();
    (v["downloadCount"].clone(), v["lastDownloaded"].clone())
}

/// Statistics are written with the item in snapshots and read back; a copy starts afresh and a
/// move keeps them.
#[tokio::test]
async fn download_statistics_survive_a_restart_and_follow_moves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let s = start_with(|c| c.data_dir = Some(data.clone())).await;
        s.deploy("generic-local/st.txt", "s").await;
        s.clock.advance(1000);
        for _ in 0..2 {
            s.get("generic-local/st.txt").await.bytes();
        }
        s.server.stop().await;
    }
    let s = start_with(|c| c.data_dir = Some(data.clone())).await;
    assert_eq!(stats(&s, "st.txt").await, (json!(2), json!(T0 + 1000)));
    let r = s
        .admin(
            Method::POST,
            "api/copy/generic-local/st.txt?to=/generic-local/copy.txt",
        )
        .go()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(stats(&s, "copy.txt").await, (json!(0), json!(0)));
    let r = s
        .admin(
            Method::POST,
            "api/move/generic-local/st.txt?to=/generic-local/moved.txt",
        )
        .go()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(stats(&s, "moved.txt").await, (json!(2), json!(T0 + 1000)));
}

#[tokio::test]
async fn trace_is_plain_text() {
    let s = start().await;
    s.deploy("generic-local/t.txt", "t").await;
    let r = s.get("generic-local/t.txt?trace").await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Request ID: "));
    assert_eq!(lines[1], "Repo Path ID: generic-local:t.txt");
    assert_eq!(lines[2], "Method Name: GET");
    assert_eq!(lines[3], "User: admin");
    assert_eq!(lines[4], format!("Time: {T0_ISO}"));
    assert_eq!(lines[6], "Steps: ");
    assert_eq!(
        lines.last().unwrap(),
        &format!("{T0_ISO} Request succeeded")
    );
}

pub fn zip_bytes() -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    z.start_file::<_, ()>(
        "META-INF/LICENSE.txt",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    z.write_all(b"license text").unwrap();
    z.finish().unwrap();
    buf.into_inner()
}

pub fn tgz_bytes() -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let data = b"apiVersion: v2\nname: chart\nversion: 1.0.0\n";
    let mut hdr = tar::Header::new_gnu();
    hdr.set_size(data.len() as u64);
    hdr.set_mode(0o644);
    hdr.set_cksum();
    builder
        .append_data(&mut hdr, "chart/Chart.yaml", &data[..])
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

#[tokio::test]
async fn archive_entries_from_zip_and_tgz() {
    let s = start().await;
    s.deploy("generic-local/lib/a.jar", zip_bytes()).await;
    s.deploy("generic-local/c-1.0.tgz", tgz_bytes()).await;
    let r = s.get("generic-local/lib/a.jar!/META-INF/LICENSE.txt").await;
    let (status, h, text) = parts(r).await;
    assert_eq!((status, text.as_str()), (200, "license text"));
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    let r = s.get("generic-local/c-1.0.tgz!/chart/Chart.yaml").await;
    assert_eq!(r.text(), "apiVersion: v2\nname: chart\nversion: 1.0.0\n");
    assert_rest_error(
        s.get("generic-local/lib/a.jar!/missing").await,
        404,
        "File not found.",
    )
    .await;
}

/// A zip whose one entry inflates a hundredfold: streamed (not buffered), with `Range` and HEAD;
/// an entry claiming more than the server inflates is refused.
#[tokio::test]
async fn archive_entries_stream_honour_range_and_are_capped() {
    use std::io::Write;
    let s = start().await;
    let big = 20usize << 20;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("zeros.bin", o).unwrap();
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..20 {
            z.write_all(&chunk).unwrap();
        }
        z.finish().unwrap();
    }
    let bytes = buf.into_inner();
    assert!(bytes.len() < big / 100, "{} bytes", bytes.len());
    s.deploy("generic-local/bomb/z.zip", bytes).await;
    let r = s.get("generic-local/bomb/z.zip!/zeros.bin").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "content-length"), Some("20971520"));
    assert!(r.bytes().len() == big && r.bytes().iter().all(|b| *b == 7));
    let r = s
        .admin(Method::GET, "generic-local/bomb/z.zip!/zeros.bin")
        .header("range", "bytes=1000-1999")
        .go()
        .await;
    assert_eq!(r.status(), 206);
    assert_eq!(
        header(r.headers(), "content-range"),
        Some("bytes 1000-1999/20971520")
    );
    assert_eq!(r.bytes().len(), 1000);
    let r = s
        .admin(Method::GET, "generic-local/bomb/z.zip!/zeros.bin")
        .header("range", "bytes=30000000-")
        .go()
        .await;
    assert_eq!(r.status(), 416);
    let r = s
        .admin(Method::HEAD, "generic-local/bomb/z.zip!/zeros.bin")
        .go()
        .await;
    assert_eq!((r.status().as_u16(), r.bytes().len()), (200, 0));
    assert_eq!(header(r.headers(), "content-length"), Some("20971520"));
    // A tar entry whose header claims 2 GiB (the data is not even there).
    let mut hdr = tar::Header::new_gnu();
    hdr.set_size(2 << 30);
    hdr.set_mode(0o644);
    hdr.set_path("huge.bin").unwrap();
    hdr.set_cksum();
    let mut tar = hdr.as_bytes().to_vec();
    tar.extend_from_slice(&[0u8; 1024]);
    s.deploy("generic-local/bomb/t.tar", tar).await;
    assert_rest_error(
        s.get("generic-local/bomb/t.tar!/huge.bin").await,
        400,
        "The archive entry is larger than 1024 MiB, the most this server inflates",
    )
    .await;
}

#[tokio::test]
async fn delete_file_folder_and_errors() {
    let s = start().await;
    s.deploy("generic-local/del/a.txt", "a").await;
    s.deploy("generic-local/del/b/c.txt", "c").await;
    s.deploy("generic-local/delx.txt", "keep").await;
    let r = s
        .admin(Method::DELETE, "generic-local/del/a.txt")
        .go()
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(r.text(), "");
    let r = s.admin(Method::DELETE, "generic-local/del").go().await;
    assert_eq!(r.status(), 204);
    assert_rest_error(
        s.get("api/storage/generic-local/del/b/c.txt").await,
        404,
        "Unable to find item",
    )
    .await;
    assert_eq!(s.get("generic-local/delx.txt").await.status(), 200);
    let r = s.admin(Method::DELETE, "generic-local/del").go().await;
    assert_rest_error(
        r,
        404,
        "Could not locate artifact 'generic-local:del' (Nothing to delete).",
    )
    .await;
    let r = s.admin(Method::DELETE, "nope/x").go().await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.text(), "");
}

#[tokio::test]
async fn unsupported_method_is_405_with_webdav_allow() {
    let s = start().await;
    let r = s.admin(Method::PATCH, "generic-local/x").go().await;
    assert_eq!(r.status(), 405);
    assert_eq!(
        header(r.headers(), "allow"),
        Some("delete, lock, mkcol, move, options, post, propfind, proppatch, unlock")
    );
}
