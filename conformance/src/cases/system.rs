//! System endpoints, common headers and authentication challenges.

use serde_json::json;

use crate::case::{expect_string, Case, CaseFuture, Ctx, Failure};
use crate::check;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("system/ping/ok", ping)
            .covers(["system.ping"])
            .spec("jcr-rest-api.txt System Health Ping; behaviour §12"),
        Case::new("system/version/fields", version)
            .covers(["system.version"])
            .spec("jcr-rest-api.txt Version and Add-ons information; behaviour §12"),
        Case::new("system/headers/every-response", common_headers)
            .covers(["system.ping", "artifacts.retrieve"])
            .spec("behaviour §1.6"),
        Case::new("system/auth/anonymous-challenge", anonymous_challenge)
            .covers(["storage.storageinfo"])
            .spec("behaviour §1.5"),
        Case::new("system/auth/bad-credentials", bad_credentials)
            .covers(["storage.file-info"])
            .spec("behaviour §1.5"),
        Case::new("system/storage/gc", gc)
            .covers(["system.gc"])
            .global()
            .admin()
            .spec("jcr-rest-api.txt Run Garbage Collection"),
        Case::new("system/info/dump", info)
            .covers(["system.info"])
            .admin()
            .spec("jcr-rest-api.txt System Info (text/plain); scripts wait for its ' SYSTEM INFORMATION DUMP' line"),
        Case::new("system/licenses/details", licenses)
            .covers(["system.licenses.get", "system.license"])
            .admin()
            .spec("jcr-rest-api.txt License Information: type, validThrough, licensedTo (a JCR reports 'JCR Edition')"),
        Case::new("system/licenses/install-refused", license_install)
            .covers(["system.licenses.install"])
            .admin()
            .spec("jcr-rest-api.txt Install License: a request without a key, or with a key that is not one, is a 400 in the errors shape"),
        Case::new("system/verify-connection", verify_connection)
            .covers(["system.verify-connection"])
            .admin()
            .spec("jcr-rest-api.txt Verify Connection: 200 when the endpoint answers 200, else 400 with its error"),
        Case::new("system/probes", probes)
            .covers(["system.readiness", "system.liveness", "system.router-health"])
            .spec("JFrog REST APIs Readiness Probe, Liveness Probe ({\"code\":\"OK\"}) and the router's Health Check"),
        Case::new("system/usage", usage)
            .covers(["system.usage"])
            .spec("the usage report jfrog-client-js sends: accepted"),
        Case::new("system/base-url/every-absolute-url", base_url)
            .covers(["system.base-url"])
            .writes()
            .global()
            .admin()
            .spec("jcr-rest-api.txt Update Custom URL Base: the message, then deploy, file info, repositories and search URLs under the new base; restored at the end"),
        Case::new("system/tasks/list", tasks)
            .covers(["system.tasks"])
            .admin()
            .spec("Get Background Tasks (GET /api/tasks): {tasks: [{id, type, state, description, started?}]}, admin only"),
        Case::new("system/storage/optimize", optimize)
            .covers(["system.optimize"])
            .global()
            .admin()
            .spec("Optimize System Storage (POST /api/system/storage/optimize): 200, the work scheduled"),
        Case::new("system/web-server/round-trip", web_server)
            .covers([
                "system.web-server.get",
                "system.web-server.update",
                "system.reverse-proxy-snippet",
            ])
            .global()
            .admin()
            .spec("jcr-rest-api.txt Get/Update Reverse Proxy Configuration and Get Reverse Proxy Snippet: what is saved comes back, the snippet follows it; restored at the end"),
        Case::new("system/sha2-migration/start-stop", sha2_migration)
            .covers(["system.sha2-migration.start", "system.sha2-migration.stop"])
            .global()
            .admin()
            .spec("jcr-rest-api.txt SHA256 Migration start/stop: text/plain answers; a second start while one runs is a 400"),
        Case::new("system/configuration/xml", configuration_xml)
            .covers(["system.configuration.get"])
            .admin()
            .spec("jcr-rest-api.txt General Configuration: artifactory.config.xml (application/xml) in Artifactory's namespace and element order, the repositories included"),
        Case::new("system/configuration/save-round-trip", configuration_save)
            .covers(["system.configuration.save", "system.configuration.get"])
            .writes()
            .global()
            .admin()
            .spec("jcr-rest-api.txt Save General Configuration: what GET shows, posted back, is taken and shown again (revision aside); a document cut short is a 400 that changes nothing"),
        Case::new("import-export/settings-examples", import_export_examples)
            .covers(["export.system.settings", "import.system.settings"])
            .admin()
            .spec("jcr-rest-api.txt Export/Import System Settings Example: the settings JSON with a path and boolean flags"),
        Case::new("import-export/climbing-paths-refused", import_export_climbing_paths)
            .covers(["export.system", "import.system", "import.repositories"])
            .admin()
            .spec("Artifactory's ImportExportPathValidator: a path with '/..' is 'Invalid Export Directory' / 'Invalid Import Directory' (text for the system endpoints, the errors shape for repositories); no path is 'You must provide a repository path to import from.'"),
        Case::new("import-export/export-and-reimport-repository", export_and_reimport)
            .covers(["export.system", "import.repositories", "import.system"])
            .writes()
            .global()
            .admin()
            .spec("jcr-rest-api.txt Export System (incremental, into <exportPath>/current) and Import Repository Content: a deleted file comes back with its properties"),
        Case::new("system/auth/anonymous-read", anonymous_read)
            .covers(["repositories.list", "system.version"])
            .anonymous()
            .spec("jcr-rest-api.txt Get Repositories, Version (can be anonymous); behaviour §1.5"),
    ]
}

fn ping(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", "api/system/ping").anonymous()).await?;
        r.expect_status(200)?.expect_content_type("text/plain")?;
        c.snap("system.ping", &r)?;
        check!(r.text() == "OK", "body: expected 'OK', got '{}'", r.text());
        Ok(())
    })
}

fn version(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", "api/system/version")).await?;
        r.expect_status(200)?
            .expect_content_type("application/vnd.org.jfrog.artifactory.system.Version+json")?;
        c.snap("system.version", &r)?;
        let v = r.json()?;
        let version = expect_string(&v, "version")?;
        check!(
            version.split('.').count() >= 2,
            "version '{version}' is not dotted"
        );
        expect_string(&v, "revision")?;
        check!(
            v.get("addons").is_some_and(|a| a.is_array()),
            "addons must be an array: {v}"
        );
        check!(
            v.get("license").is_none_or(|l| l.is_string()),
            "license, when present, is a string"
        );
        Ok(())
    })
}

fn common_headers(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let missing = format!("{}/no-such-file.txt", c.path(""));
        for path in ["api/system/ping".to_string(), missing] {
            let r = c.send(c.req("GET", &path)).await?;
            if r.status == 404 {
                c.snap("artifacts.retrieve", &r)?;
            }
            let v = r.header("x-jfrog-version").unwrap_or("");
            check!(
                v.starts_with("Artifactory/"),
                "{path}: X-JFrog-Version '{v}' does not start with 'Artifactory/'"
            );
            check!(
                r.header("x-artifactory-id").is_some_and(|v| !v.is_empty()),
                "{path}: X-Artifactory-Id missing"
            );
        }
        Ok(())
    })
}

fn anonymous_challenge(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        // Admin-only: anonymous callers get 401 whether anonymous access is on or off.
        let r = c.send(c.req("GET", "api/storageinfo").anonymous()).await?;
        r.expect_status(401)?
            .expect_header("www-authenticate", "Basic realm=\"Artifactory Realm\"")?;
        c.snap_as("storage.storageinfo", "anonymous", &r)?;
        Ok(())
    })
}

fn bad_credentials(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c
            .send(
                c.req("GET", &format!("api/storage/{}", c.repo))
                    .anonymous()
                    .header("Authorization", "Basic bm8tc3VjaC11c2VyOndyb25n"),
            )
            .await?;
        r.expect_header("www-authenticate", "Basic realm=\"Artifactory Realm\"")?;
        r.expect_status(401)?
            .expect_content_type("application/json")?;
        let v = r.json()?;
        check!(v["errors"][0]["status"] == 401, "error shape: {v}");
        check!(v["errors"][0]["message"].is_string(), "error shape: {v}");
        Ok(())
    })
}

fn anonymous_read(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        for path in ["api/repositories", "api/system/version"] {
            let r = c.send(c.req("GET", path).anonymous()).await?;
            r.expect_status(200)?;
            r.json()?;
        }
        // Writing still needs credentials: 401 with the Basic challenge.
        let r = c
            .send(
                c.req("PUT", &c.path("anonymous/denied.txt"))
                    .anonymous()
                    .body(b"x"),
            )
            .await?;
        r.expect_status(401)?
            .expect_header("www-authenticate", "Basic realm=\"Artifactory Realm\"")?;
        Ok(())
    })
}

fn gc(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let kept = c.path("gc/kept.bin");
        let body = format!("kept through gc {}", c.prefix).into_bytes();
        c.deploy(&kept, &body).await?;
        let gone = c.path("gc/gone.bin");
        c.deploy(&gone, format!("collected {}", c.prefix).as_bytes())
            .await?;
        c.send(c.req("DELETE", &gone)).await?.expect_status(204)?;
        let r = c.send(c.req("POST", "api/system/storage/gc")).await?;
        c.snap("system.gc", &r)?;
        r.expect_status(200)?;
        let g = c.send(c.req("GET", &kept)).await?;
        check!(
            g.status == 200 && g.body == body,
            "a referenced binary did not survive gc ({})",
            g.status
        );
        let anon = c
            .send(c.req("POST", "api/system/storage/gc").anonymous())
            .await?;
        check!(
            anon.status == 401,
            "anonymous gc must be 401, got {}",
            anon.status
        );
        c.snap_as("system.gc", "anonymous", &anon)?;
        Ok(())
    })
}

fn info(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", "api/system")).await?;
        r.expect_status(200)?.expect_content_type("text/plain")?;
        let first = r.text().lines().next().unwrap_or("").to_string();
        c.snap_body("system.info", None, &r, &json!(first))?;
        let text = r.text();
        check!(
            text.lines().next() == Some(" SYSTEM INFORMATION DUMP"),
            "the first line is not ' SYSTEM INFORMATION DUMP': {}",
            text.lines().next().unwrap_or("")
        );
        let anon = c.send(c.req("GET", "api/system").anonymous()).await?;
        c.snap_as("system.info", "anonymous", &anon)?;
        check!(
            anon.status == 401,
            "anonymous system info: {} (expected 401)",
            anon.status
        );
        Ok(())
    })
}

fn licenses(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let mut seen = Vec::new();
        for path in ["api/system/licenses", "api/system/license"] {
            let r = c.send(c.req("GET", path)).await?;
            if path.ends_with("license") {
                c.snap("system.license", &r)?;
            }
            r.expect_status(200)?
                .expect_content_type("application/json")?;
            let v = r.json()?;
            let kind = expect_string(&v, "type")?;
            expect_string(&v, "validThrough")?;
            expect_string(&v, "licensedTo")?;
            if kind == "JCR Edition" {
                check!(
                    v == json!({"type": "JCR Edition", "validThrough": "", "licensedTo": ""}),
                    "a JCR's licence details: {v}"
                );
            }
            seen.push(v);
        }
        check!(
            seen[0] == seen[1],
            "/licenses and /license differ: {} vs {}",
            seen[0],
            seen[1]
        );
        let r = c.send(c.req("GET", "api/system/licenses")).await?;
        c.snap("system.licenses.get", &r)
    })
}

fn license_install(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let post = |body: &'static str| {
            c.req("POST", "api/system/licenses")
                .header("Content-Type", "application/json")
                .body(body.as_bytes())
        };
        let r = c.send(post(r#"{"licenseKey": ""}"#)).await?;
        r.expect_rest_error(400, "No license key supplied.")?;
        c.snap("system.licenses.install", &r)?;
        let r = c
            .send(post(r#"{"licenseKey": "not a licence key"}"#))
            .await?;
        r.expect_status(400)?;
        let v = r.json()?;
        check!(
            v["errors"][0]["message"].is_string() || v["message"].is_string(),
            "no message in the refusal: {v}"
        );
        Ok(())
    })
}

fn verify_connection(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let verify = |endpoint: String| {
            c.req("POST", "api/system/verifyconnection")
                .json(&json!({ "endpoint": endpoint }))
        };
        let r = c
            .send(verify(format!("{}/api/system/ping", c.base)))
            .await?;
        r.expect_status(200)?;
        c.snap("system.verify-connection", &r)?;
        check!(
            r.text() == "Successfully connected to endpoint",
            "body: {}",
            r.text()
        );
        let target = format!("{}/api/system/licenses", c.base);
        let r = c.send(verify(target.clone())).await?;
        r.expect_status(400)?;
        let v = r.json()?;
        let m = v["errors"][0]["message"].as_str().unwrap_or("");
        check!(
            m.starts_with(&format!(
                "Received error from endpoint url: {target} --> 401"
            )),
            "message: {m}"
        );
        c.snap("system.verify-connection", &r)
    })
}

fn probes(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        for path in ["api/v1/system/readiness", "api/v1/system/liveness"] {
            let r = c.send(c.req("GET", path).anonymous()).await?;
            c.snap(
                if path.ends_with("readiness") {
                    "system.readiness"
                } else {
                    "system.liveness"
                },
                &r,
            )?;
            r.expect_status(200)?;
            let v = r.json()?;
            check!(v == json!({"code": "OK"}), "{path}: {v}");
        }
        let url = format!("{}/router/api/v1/system/health", c.root());
        let r = c.send(c.req_url("GET", &url).anonymous()).await?;
        // Node ids name the instance's host and process.
        let mut shown = r.json()?;
        shown["router"]["node_id"] = json!("<node-id>");
        if let Some(all) = shown["services"].as_array_mut() {
            for s in all {
                s["node_id"] = json!("<node-id>");
            }
        }
        c.snap_body("system.router-health", None, &r, &shown)?;
        r.expect_status(200)?;
        let v = r.json()?;
        check!(
            v["router"]["state"] == "HEALTHY" && v["services"].is_array(),
            "router health: {v}"
        );
        let services = v["services"].as_array().map(Vec::len).unwrap_or(0);
        if services == 0 {
            return Err(Failure::Fail("the router lists no service".into()));
        }
        Ok(())
    })
}

fn usage(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c
            .send(c.req("POST", "api/system/usage").json(
                &json!({"productId": "jcr-conformance", "features": [{"featureId": "usage"}]}),
            ))
            .await?;
        r.expect_status(200)?;
        c.snap("system.usage", &r)?;
        Ok(())
    })
}

fn base_url(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let path = c.path("base-url/a.txt");
        let before = c.deploy(&path, b"base url").await?;
        let shown = before["downloadUri"].as_str().unwrap_or("").to_string();
        let previous = shown
            .strip_suffix(&format!("/{path}"))
            .unwrap_or(&c.base)
            .to_string();
        let set = |url: String| {
            c.req("PUT", "api/system/configuration/baseUrl")
                .header("Content-Type", "text/plain")
                .body(url.as_bytes())
        };
        let base = "https://conformance.example.test/artifactory".to_string();
        let r = c.send(set(base.clone())).await?;
        c.snap("system.base-url", &r)?;
        let outcome = async {
            r.expect_status(200)?;
            check!(
                r.text() == format!("URL base has been successfully updated to \"{base}\".\n"),
                "message: {:?}",
                r.text()
            );
            let again = c.deploy(&c.path("base-url/b.txt"), b"b").await?;
            let info = c
                .send(c.req("GET", &format!("api/storage/{path}")))
                .await?
                .json()?;
            let repos = c.send(c.req("GET", "api/repositories")).await?.json()?;
            let mut urls = vec![
                again["downloadUri"].clone(),
                info["uri"].clone(),
                info["downloadUri"].clone(),
            ];
            urls.extend(
                repos
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| r["url"].clone()),
            );
            for u in urls {
                let u = u.as_str().unwrap_or("");
                check!(
                    u.starts_with(&format!("{base}/")),
                    "{u} is not under the new URL base {base}"
                );
            }
            Ok(())
        }
        .await;
        // Back to what the target showed (no custom base when it was the runner's own URL).
        let restore = if previous == c.base {
            String::new()
        } else {
            previous
        };
        c.send(set(restore)).await?.expect_status(200)?;
        outcome
    })
}

fn tasks(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", "api/tasks")).await?;
        c.snap_body(
            "system.tasks",
            None,
            &r,
            &crate::case::shape_only(&r.json()?),
        )?;
        r.expect_status(200)?
            .expect_content_type("application/json")?;
        let v = r.json()?;
        let Some(all) = v["tasks"].as_array() else {
            return Err(Failure::Fail(format!("no tasks array: {v}")));
        };
        for t in all {
            for f in ["id", "type", "state"] {
                expect_string(t, f)?;
            }
            let state = t["state"].as_str().unwrap_or("");
            check!(
                state == state.to_lowercase(),
                "states are lower case: {state}"
            );
            if let Some(started) = t.get("started") {
                check!(started.is_string(), "started: {started}");
            }
        }
        let anon = c.send(c.req("GET", "api/tasks").anonymous()).await?;
        c.snap_as("system.tasks", "anonymous", &anon)?;
        check!(anon.status == 401, "anonymous tasks: {}", anon.status);
        Ok(())
    })
}

fn optimize(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("POST", "api/system/storage/optimize")).await?;
        r.expect_status(200)?;
        c.snap("system.optimize", &r)?;
        Ok(())
    })
}

fn web_server(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let get = || c.req("GET", "api/system/configuration/webServer");
        let r = c.send(get()).await?;
        r.expect_status(200)?
            .expect_content_type("application/json")?;
        let before = r.json()?;
        c.snap("system.web-server.get", &r)?;
        for f in ["key", "serverName", "dockerReverseProxyMethod"] {
            expect_string(&before, f)?;
        }
        let mut doc = before.clone();
        doc["webServerType"] = json!("NGINX");
        doc["serverName"] = json!("conformance.example.test");
        doc["dockerReverseProxyMethod"] = json!("SUBDOMAIN");
        doc["useHttp"] = json!(true);
        doc["httpPort"] = json!(8088);
        let save =
            |v: &serde_json::Value| c.req("POST", "api/system/configuration/webServer").json(v);
        let r = c.send(save(&doc)).await?;
        c.snap("system.web-server.update", &r)?;
        let outcome = async {
            check!(
                r.status == 200 || r.status == 201,
                "saving the settings: {} {}",
                r.status,
                r.text()
            );
            let after = c.send(get()).await?.json()?;
            for f in [
                "webServerType",
                "serverName",
                "dockerReverseProxyMethod",
                "useHttp",
                "httpPort",
            ] {
                check!(
                    after[f] == doc[f],
                    "{f}: saved {}, read back {}",
                    doc[f],
                    after[f]
                );
            }
            let snippet = c
                .send(c.req("GET", "api/system/configuration/reverseProxy/nginx"))
                .await?;
            snippet.expect_status(200)?;
            c.snap("system.reverse-proxy-snippet", &snippet)?;
            let text = snippet.text();
            check!(
                text.contains("conformance\\.example\\.test")
                    || text.contains("conformance.example.test"),
                "the snippet does not name the server: {text}"
            );
            check!(
                text.contains("listen 8088"),
                "the snippet does not listen on 8088: {text}"
            );
            Ok(())
        }
        .await;
        c.send(save(&before)).await?;
        outcome
    })
}

fn sha2_migration(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c
            .send(
                c.req("POST", "api/system/migration/sha2/start")
                    .json(&json!({"queryLimit": 100, "sleepIntervalMillis": 0})),
            )
            .await?;
        r.expect_status(200)?.expect_content_type("text/plain")?;
        c.snap("system.sha2-migration.start", &r)?;
        check!(
            r.text() == "Sha256 migration scheduled to start successfully",
            "start: {}",
            r.text()
        );
        let r = c
            .send(c.req("POST", "api/system/migration/sha2/stop"))
            .await?;
        r.expect_status(200)?;
        c.snap("system.sha2-migration.stop", &r)?;
        check!(
            r.text() == "Sha256 migration scheduled to stop successfully",
            "stop: {}",
            r.text()
        );
        Ok(())
    })
}

/// Whether `xml` is an Artifactory configuration: a `config` root in Artifactory's namespace.
fn is_config_xml(xml: &str) -> Result<(), Failure> {
    let root = xml
        .find("<config ")
        .ok_or_else(|| Failure::Fail(format!("no <config> root element: {xml:.200}")))?;
    let head = &xml[root..xml[root..].find('>').map_or(xml.len(), |i| root + i)];
    check!(
        head.contains("xmlns=\"http://artifactory.jfrog.org/xsd/"),
        "the root is not in Artifactory's namespace: {head}"
    );
    Ok(())
}

/// The configuration without its `<revision>` line (each save counts one).
fn without_revision(xml: &str) -> String {
    xml.lines()
        .filter(|l| !l.trim_start().starts_with("<revision>"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn configuration_xml(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", "api/system/configuration")).await?;
        r.expect_status(200)?
            .expect_content_type("application/xml")?;
        let xml = r.text();
        let head: Vec<&str> = xml.lines().take(2).collect();
        c.snap_body(
            "system.configuration.get",
            None,
            &r,
            &json!(head.join("\n")),
        )?;
        is_config_xml(&xml)?;
        // The schema's order: security, then the repositories by class.
        let at = |tag: &str| xml.find(tag);
        let order = [
            "<security>",
            "<localRepositories",
            "<remoteRepositories",
            "<virtualRepositories",
        ];
        let found: Vec<Option<usize>> = order.iter().map(|t| at(t)).collect();
        check!(
            found.iter().all(Option::is_some),
            "missing one of {order:?}: {:.300}",
            xml
        );
        check!(
            found.windows(2).all(|w| w[0] < w[1]),
            "{order:?} are not in the schema's order"
        );
        check!(
            xml.contains(&format!("<key>{}</key>", c.repo)),
            "the case repository '{}' is not in the configuration",
            c.repo
        );
        Ok(())
    })
}

fn configuration_save(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let get = || c.req("GET", "api/system/configuration");
        let post = |xml: &str| {
            c.req("POST", "api/system/configuration")
                .header("Content-Type", "application/xml")
                .body(xml.as_bytes())
        };
        let before = c.send(get()).await?.text();
        is_config_xml(&before)?;
        // What the server shows, posted back, is taken whole and shown again.
        let r = c.send(post(&before)).await?;
        r.expect_status(200)?;
        c.snap("system.configuration.save", &r)?;
        check!(
            r.text().contains("Reload of new configuration succeeded"),
            "answer: {}",
            r.text()
        );
        let after = c.send(get()).await?.text();
        check!(
            without_revision(&after) == without_revision(&before),
            "the configuration changed by being posted back"
        );
        // A document cut short is a 400 and changes nothing.
        let cut = &before[..before.len() / 2];
        let r = c.send(post(cut)).await?;
        r.expect_status(400)?;
        c.snap("system.configuration.save", &r)?;
        let still = c.send(get()).await?.text();
        check!(
            without_revision(&still) == without_revision(&before),
            "a refused document changed the configuration"
        );
        Ok(())
    })
}

fn import_export_examples(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", "api/export/system")).await?;
        r.expect_status(200)?;
        let v = r.json()?;
        let mut shown = v.clone();
        shown["exportPath"] = json!("<export-path>");
        c.snap_body("export.system.settings", None, &r, &shown)?;
        expect_string(&v, "exportPath")?;
        for f in [
            "includeMetadata",
            "createArchive",
            "bypassFiltering",
            "verbose",
            "failOnError",
            "failIfEmpty",
            "m2",
            "incremental",
            "excludeContent",
        ] {
            check!(
                v[f].is_boolean(),
                "export settings: '{f}' is not a boolean: {v}"
            );
        }
        let r = c.send(c.req("GET", "api/import/system")).await?;
        r.expect_status(200)?;
        let v = r.json()?;
        let mut shown = v.clone();
        shown["importPath"] = json!("<export-path>");
        c.snap_body("import.system.settings", None, &r, &shown)?;
        expect_string(&v, "importPath")?;
        for f in ["includeMetadata", "verbose", "failOnError", "failIfEmpty"] {
            check!(
                v[f].is_boolean(),
                "import settings: '{f}' is not a boolean: {v}"
            );
        }
        Ok(())
    })
}

fn import_export_climbing_paths(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let climb = "/tmp/../etc/jcr-conformance";
        let r = c
            .send(
                c.req("POST", "api/export/system")
                    .json(&json!({"exportPath": climb})),
            )
            .await?;
        crate::case::expect_text(&r, 400, "Invalid Export Directory")?;
        c.snap("export.system", &r)?;
        let r = c
            .send(
                c.req("POST", "api/import/system")
                    .json(&json!({"importPath": climb})),
            )
            .await?;
        crate::case::expect_text(&r, 400, "Invalid Import Directory")?;
        c.snap("import.system", &r)?;
        let r = c
            .send(c.req(
                "POST",
                &format!("api/import/repositories?path={climb}&repo={}", c.repo),
            ))
            .await?;
        r.expect_rest_error(400, "Invalid Import Directory")?;
        c.snap("import.repositories", &r)?;
        let r = c.send(c.req("POST", "api/import/repositories")).await?;
        r.expect_rest_error(400, "You must provide a repository path to import from.")?;
        Ok(())
    })
}

fn export_and_reimport(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let example = c.send(c.req("GET", "api/export/system")).await?.json()?;
        let base = expect_string(&example, "exportPath")?;
        let path = c.path("export/kept.txt");
        c.deploy(&format!("{path};origin=export"), b"exported content")
            .await?;
        // Incremental exports go to `<exportPath>/current`, a path the case can name.
        let r = c
            .send(c.req("POST", "api/export/system").json(&json!({
                "exportPath": base, "incremental": true, "includeMetadata": true,
            })))
            .await?;
        r.expect_status(200)?;
        c.snap_body(
            "export.system",
            None,
            &r,
            &json!(r.text().replace(&base, "<export-path>")),
        )?;
        c.send(c.req("DELETE", &path)).await?.expect_status(204)?;
        let from = format!(
            "{}/current/repositories/{}",
            base.trim_end_matches('/'),
            c.repo
        );
        let r = c
            .send(c.req(
                "POST",
                &format!(
                    "api/import/repositories?path={from}&repo={}&metadata=1",
                    c.repo
                ),
            ))
            .await?;
        r.expect_status(200)?;
        c.snap_body(
            "import.repositories",
            None,
            &r,
            &json!(r.text().replace(&from, "<export-path>")),
        )?;
        let back = c.send(c.req("GET", &path)).await?;
        back.expect_status(200)?;
        check!(
            back.body == b"exported content",
            "the content came back changed"
        );
        let props = c
            .send(c.req("GET", &format!("api/storage/{path}?properties")))
            .await?
            .json()?;
        check!(
            props["properties"]["origin"] == json!(["export"]),
            "the properties did not come back: {props}"
        );
        // The whole export back as a system import: the same state, so nothing else changes.
        let whole = format!("{}/current", base.trim_end_matches('/'));
        let r = c
            .send(
                c.req("POST", "api/import/system")
                    .json(&json!({"importPath": whole, "includeMetadata": true})),
            )
            .await?;
        r.expect_status(200)?;
        c.snap_body(
            "import.system",
            None,
            &r,
            &json!(r.text().replace(&whole, "<export-path>")),
        )?;
        let back = c.send(c.req("GET", &path)).await?;
        check!(
            back.status == 200 && back.body == b"exported content",
            "after the system import the file answers {}",
            back.status
        );
        Ok(())
    })
}
