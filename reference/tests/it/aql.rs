//! AQL over the items domain: the output frame, fields, include/sort/offset/limit, criteria, errors and
//! permissions.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

async fn aql(s: &Srv, user: (&str, &str), q: &str) -> (u16, String) {
    let r = s
        .basic(Method::POST, "api/search/aql", user.0, user.1)
        .header("content-type", "text/plain")
        .body(q.to_string())
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    (st, r.text().await.unwrap())
}

const ADMIN: (&str, &str) = ("admin", "password");

#[tokio::test]
async fn the_output_frame_and_default_fields() {
    let s = start().await;
    s.deploy("generic-local/top.txt", "12345").await;
    s.deploy("generic-local/org/a.jar;build=7", "a").await;
    let (st, body) = aql(&s, ADMIN, r#"items.find({"repo":"generic-local"})"#).await;
    assert_eq!(st, 200, "{body}");
    assert!(body.starts_with("\n{\n\"results\" : [ {\n"), "{body:?}");
    assert!(
        body.ends_with(
            " ],\n\"range\" : {\n  \"start_pos\" : 0,\n  \"end_pos\" : 2,\n  \"total\" : 2\n}\n}\n"
        ),
        "{body:?}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    let rows = v["results"].as_array().unwrap();
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "repo",
            "path",
            "name",
            "type",
            "size",
            "created",
            "created_by",
            "modified",
            "modified_by",
            "updated"
        ]
    );
    assert_eq!(
        rows[0],
        json!({"repo": "generic-local", "path": "org", "name": "a.jar", "type": "file", "size": 1,
               "created": T0_ISO, "created_by": "admin", "modified": T0_ISO, "modified_by": "admin", "updated": T0_ISO})
    );
    assert_eq!(
        (
            rows[1]["path"].clone(),
            rows[1]["name"].clone(),
            rows[1]["size"].clone()
        ),
        (json!("."), json!("top.txt"), json!(5))
    );
}

#[tokio::test]
async fn criteria_include_sort_offset_limit() {
    let s = start().await;
    for (p, body) in [
        ("a/x1.jar;build=1;os=linux", "1"),
        ("a/x2.jar;build=2", "22"),
        ("b/y.txt", "333"),
        ("b/x3.JAR", "4444"),
    ] {
        s.deploy(&format!("generic-local/{p}"), body).await;
    }
    assert_eq!(s.get("generic-local/a/x2.jar").await.status(), 200);
    let names = |body: &str| -> Vec<String> {
        let v: Value = serde_json::from_str(body).unwrap();
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            r#"items.find({"name":{"$match":"*.jar"}})"#,
            vec!["x1.jar", "x2.jar"],
        ),
        (
            r#"items.find({"name":{"$nmatch":"*.jar"}})"#,
            vec!["x3.JAR", "y.txt"],
        ),
        (
            r#"items.find({"size":{"$gte":2,"$lt":4}})"#,
            vec!["x2.jar", "y.txt"],
        ),
        (
            r#"items.find({"$or":[{"@build":"1"},{"path":"b"}]})"#,
            vec!["x1.jar", "x3.JAR", "y.txt"],
        ),
        (
            r#"items.find({"@build":{"$ne":"1"}})"#,
            vec!["x2.jar", "x3.JAR", "y.txt"],
        ),
        (r#"items.find({"@*":"linux"})"#, vec!["x1.jar"]),
        (r#"items.find({"@os":{"$match":"*"}})"#, vec!["x1.jar"]),
        (
            r#"items.find({"stat.downloads":{"$gt":0}})"#,
            vec!["x2.jar"],
        ),
        (
            r#"items.find({"created":{"$last":"1d"},"repo":"generic-local","path":"a"})"#,
            vec!["x1.jar", "x2.jar"],
        ),
        (r#"items.find({"created":{"$before":"1d"}})"#, vec![]),
        (
            r#"items.find({"type":"folder","repo":"generic-local"})"#,
            vec![".", "a", "b"],
        ),
        (
            r#"items.find({"actual_sha1":"356a192b7913b04c54574d18c28d46e6395428ab"})"#,
            vec!["x1.jar"],
        ),
    ];
    for (q, want) in cases {
        let (st, body) = aql(&s, ADMIN, q).await;
        assert_eq!(st, 200, "{q}: {body}");
        assert_eq!(names(&body), want, "{q}");
    }
    let (_, body) = aql(
        &s,
        ADMIN,
        r#"items.find({"repo":"generic-local"}).include("name","repo","path","@build","stat","sha256").sort({"$desc":["name"]}).offset(2).limit(2)"#,
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    // Descending by name (y.txt, x3.JAR, x2.jar, x1.jar), from the third row.
    assert_eq!(
        v["range"],
        json!({"start_pos": 2, "end_pos": 2, "total": 2, "limit": 2})
    );
    assert_eq!(
        v["results"][0],
        json!({"repo": "generic-local", "path": "a", "name": "x2.jar",
               "properties": [{"key": "build", "value": "2"}],
               "sha256": sha256_hex(b"22"),
               "stats": [{"downloaded": T0_ISO, "downloaded_by": "admin", "downloads": 1}]})
    );
    let keys: Vec<&String> = v["results"][0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["repo", "path", "name", "properties", "sha256", "stats"]
    );
    assert_eq!(v["results"][1]["name"], "x1.jar");
}

#[tokio::test]
async fn errors_are_plain_text_400s() {
    let s = start_with(with_bob).await;
    let cases = [
        (r#"items.find({"repo":"x"}).limit(1).sort({"$asc":["name"]})"#,
         r#"Failed to parse query: items.find({"repo":"x"}).limit(1).sort({"$asc":["name"]}), it looks like there is syntax error near the following sub-query: .sort({"$asc":["name"]})"#),
        (r#"items.find({"size":{"$gt":null}})"#, "Illegal syntax the 'null' values are allowed to use only with equals and not equals operators."),
        (r#"items.find({"type":"symlink"})"#, "Invalid file type: symlink, valid types are : file, folder, any"),
        (r#"items.find({"size":"big"})"#, "AQL Expect long value but found:big"),
        (r#"items.find({"created":{"$last":"3fortnights"}})"#, "Invalid relative date format for: 3fortnights"),
        (r#"items.find().sort({"$asc":["name","name"]})"#, "Duplicate fields, all the fields in the sort section should be unique."),
        (r#"items.find().include("name","repo","path").sort({"$asc":["size"]})"#, "Only the result fields are allowed to use in the sort section."),
        (r#"builds.find()"#, "The 'builds' domain is not supported by this server yet; only items.find() is"),
    ];
    for (q, msg) in cases {
        let (st, body) = aql(&s, ADMIN, q).await;
        assert_eq!((st, body.as_str()), (400, msg), "{q}");
    }
    let (st, body) = aql(&s, ("bob", "pw"), r#"items.find().include("name")"#).await;
    assert_eq!(
        (st, body.as_str()),
        (
            400,
            "For permissions reasons AQL demands the following fields: repo, path and name."
        )
    );
    let (st, body) = aql(&s, ADMIN, "  ").await;
    assert_eq!((st, body.as_str()), (400, ""));
    let r = s
        .anon(Method::POST, "api/search/aql")
        .body("items.find()")
        .send()
        .await
        .unwrap();
    assert_rest_error(r, 401, "Authentication is required").await;
}

#[tokio::test]
async fn rows_the_caller_may_not_read_are_dropped() {
    let s = start_with(|c| {
        c.users.push(user("scoped", Some(&[])));
        c.permissions.push(target(
            "t",
            "generic-local",
            "public/**",
            &[("scoped", "r")],
        ));
    })
    .await;
    s.deploy("generic-local/public/a.txt", "a").await;
    s.deploy("generic-local/private/b.txt", "b").await;
    let (st, body) = aql(
        &s,
        ("scoped", "scoped-pw"),
        r#"items.find({"repo":"generic-local"})"#,
    )
    .await;
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(v["results"][0]["name"], "a.txt");
    // The query may also come as the `query` form parameter.
    let r = s
        .admin(Method::POST, "api/search/aql")
        .form(&[("query", r#"items.find({"name":"b.txt"})"#)])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["range"]["total"], 1);
}
