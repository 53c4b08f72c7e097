//! The reverse proxy configuration (`/api/system/configuration/webServer`) and the nginx snippet
//! generated from it (`/api/system/configuration/reverseProxy/nginx`): Artifactory's HTTP
//! Settings, with its field names, order and defaults.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// A port-per-repository entry: the Docker repository, and the port (and server name) it is
/// served on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoPort {
    #[serde(rename = "repoRef")]
    pub repo: String,
    #[serde(rename = "serverName", default)]
    pub server_name: String,
    pub port: u16,
}

/// What an administrator saved (fields left out are Artifactory's defaults when shown).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReverseProxy {
    pub key: String,
    pub web_server_type: String,
    pub artifactory_app_context: String,
    pub public_app_context: String,
    pub server_name: String,
    pub server_name_expression: String,
    pub artifactory_server_name: String,
    pub artifactory_port: u16,
    pub ssl_certificate: String,
    pub ssl_key: String,
    pub docker_method: String,
    pub use_https: bool,
    pub use_http: bool,
    pub https_port: u16,
    pub http_port: u16,
    pub upstream_name: String,
    #[serde(default)]
    pub repos: Vec<RepoPort>,
}

const SERVER_TYPES: [&str; 4] = ["DIRECT", "NGINX", "APACHE", "HAPROXY"];
const DOCKER_METHODS: [&str; 3] = ["SUBDOMAIN", "REPOPATHPREFIX", "PORTPERREPO"];

impl ReverseProxy {
    /// Reads a `POST` body, refusing what Artifactory's model cannot hold (an unknown server type
    /// or Docker method, a port out of range, a field of the wrong type).
    pub fn parse(doc: &Value) -> Result<ReverseProxy, String> {
        let obj = doc
            .as_object()
            .ok_or("The reverse proxy configuration must be a JSON object")?;
        let text = |k: &str| -> Result<String, String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(format!("Field '{k}' must be a string")),
            }
        };
        let flag = |k: &str| -> Result<bool, String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(format!("Field '{k}' must be a boolean")),
            }
        };
        let port = |k: &str, default: u16| -> Result<u16, String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => v
                    .as_u64()
                    .filter(|p| (1..=65535).contains(p))
                    .map(|p| p as u16)
                    .ok_or_else(|| format!("Field '{k}' must be a port number (1-65535)")),
            }
        };
        let one_of = |k: &str, allowed: &[&str]| -> Result<String, String> {
            let v = text(k)?;
            if v.is_empty() || allowed.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(format!(
                    "Field '{k}' must be one of {}: '{v}'",
                    allowed.join(", ")
                ))
            }
        };
        let mut repos = Vec::new();
        if let Some(list) = obj
            .get("reverseProxyRepositories")
            .and_then(|r| r.get("reverseProxyRepoConfigs"))
        {
            let list = list
                .as_array()
                .ok_or("Field 'reverseProxyRepoConfigs' must be an array")?;
            for r in list {
                let repo = r["repoRef"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or("Each of 'reverseProxyRepoConfigs' needs a 'repoRef'")?;
                let port = r["port"]
                    .as_u64()
                    .filter(|p| (1..=65535).contains(p))
                    .ok_or_else(|| {
                        format!("The port of '{repo}' must be a port number (1-65535)")
                    })?;
                repos.push(RepoPort {
                    repo: repo.to_string(),
                    server_name: r["serverName"].as_str().unwrap_or("").to_string(),
                    port: port as u16,
                });
            }
        }
        let key = text("key")?;
        Ok(ReverseProxy {
            key: if key.is_empty() { "direct".into() } else { key },
            web_server_type: one_of("webServerType", &SERVER_TYPES)?,
            artifactory_app_context: text("artifactoryAppContext")?,
            public_app_context: text("publicAppContext")?,
            server_name: text("serverName")?,
            server_name_expression: text("serverNameExpression")?,
            artifactory_server_name: text("artifactoryServerName")?,
            artifactory_port: port("artifactoryPort", 8081)?,
            ssl_certificate: text("sslCertificate")?,
            ssl_key: text("sslKey")?,
            docker_method: one_of("dockerReverseProxyMethod", &DOCKER_METHODS)?,
            use_https: flag("useHttps")?,
            use_http: flag("useHttp")?,
            https_port: port("httpsPort", port("sslPort", 443)?)?,
            http_port: port("httpPort", 80)?,
            upstream_name: text("upStreamName")?,
            repos,
        })
    }

    /// As `GET` shows it, with the blanks filled from the server's URL (`host`, `context` without
    /// its leading slash, `https`, `port`) as Artifactory fills them, in its field order.
    pub fn shown(
        saved: Option<&ReverseProxy>,
        host: &str,
        context: &str,
        https: bool,
        port: u16,
    ) -> Value {
        let mut p = saved.cloned().unwrap_or_else(|| ReverseProxy {
            key: "direct".into(),
            artifactory_port: 8081,
            https_port: 443,
            http_port: 80,
            ..ReverseProxy::default()
        });
        let fill = |v: &mut String, with: &str| {
            if v.trim().is_empty() {
                *v = with.to_string();
            }
        };
        fill(&mut p.server_name, host);
        fill(&mut p.artifactory_server_name, host);
        fill(&mut p.artifactory_app_context, context);
        fill(&mut p.public_app_context, context);
        if p.web_server_type == "DIRECT" {
            p.server_name = host.to_string();
            p.public_app_context = context.to_string();
            p.use_http = !https;
            p.use_https = https;
            p.http_port = port;
        }
        fill(&mut p.docker_method, "SUBDOMAIN");
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        let opt = |s: &str| (!s.is_empty()).then(|| json!(s));
        put("key", json!(p.key));
        if let Some(v) = opt(&p.web_server_type) {
            put("webServerType", v);
        }
        put("artifactoryAppContext", json!(p.artifactory_app_context));
        put("publicAppContext", json!(p.public_app_context));
        put("serverName", json!(p.server_name));
        if let Some(v) = opt(&p.server_name_expression) {
            put("serverNameExpression", v);
        }
        put("artifactoryServerName", json!(p.artifactory_server_name));
        put("artifactoryPort", json!(p.artifactory_port));
        if let Some(v) = opt(&p.ssl_certificate) {
            put("sslCertificate", v);
        }
        if let Some(v) = opt(&p.ssl_key) {
            put("sslKey", v);
        }
        put("dockerReverseProxyMethod", json!(p.docker_method));
        put("useHttps", json!(p.use_https));
        put("useHttp", json!(p.use_http));
        put("httpsPort", json!(p.https_port));
        put("httpPort", json!(p.http_port));
        if let Some(v) = opt(&p.upstream_name) {
            put("upStreamName", v);
        }
        if !p.repos.is_empty() {
            put(
                "reverseProxyRepositories",
                json!({ "reverseProxyRepoConfigs": p.repos }),
            );
        }
        Value::Object(m)
    }
}

/// The nginx configuration for `shown` (a [`ReverseProxy::shown`] document), to include in
/// nginx's `http` block. Docker clients reach the registry by the configured method: a subdomain
/// per repository (`<repo>.<serverName>`), the repository path at the root (`/v2/<repo>/...`), or
/// a port per repository.
pub fn nginx(shown: &Value) -> String {
    let s = |k: &str| shown[k].as_str().unwrap_or("").to_string();
    let n = |k: &str| shown[k].as_u64().unwrap_or(0);
    let b = |k: &str| shown[k].as_bool().unwrap_or(false);
    let server = s("serverName");
    let public = s("publicAppContext").trim_matches('/').to_string();
    let public_path = if public.is_empty() {
        "/".to_string()
    } else {
        format!("/{public}/")
    };
    let app = s("artifactoryAppContext").trim_matches('/').to_string();
    let app_path = if app.is_empty() {
        "/".to_string()
    } else {
        format!("/{app}/")
    };
    // The public URL base, as the proxied answers should name it.
    let public_base = public_path.trim_end_matches('/').to_string();
    let upstream_name = s("upStreamName");
    let backend = if upstream_name.is_empty() {
        format!("{}:{}", s("artifactoryServerName"), n("artifactoryPort"))
    } else {
        upstream_name.clone()
    };
    let method = s("dockerReverseProxyMethod");
    let (https, http) = (b("useHttps"), b("useHttp") || !b("useHttps"));
    let mut out = String::from("## generated by jcr-reference from its reverse proxy settings\n");
    if !upstream_name.is_empty() {
        out.push_str(&format!(
            "upstream {upstream_name} {{\n    server {}:{};\n}}\n",
            s("artifactoryServerName"),
            n("artifactoryPort")
        ));
    }
    if https {
        out.push_str(&format!(
            "ssl_protocols TLSv1.2 TLSv1.3;\nssl_certificate {};\nssl_certificate_key {};\nssl_session_cache shared:SSL:1m;\nssl_prefer_server_ciphers on;\n",
            s("sslCertificate"),
            s("sslKey")
        ));
    }
    // One server block: `listens`, the server name, and what rewrites Docker paths to.
    let block = |listens: &[String], names: &str, docker: &str| {
        let mut b = String::from("server {\n");
        for l in listens {
            b.push_str(&format!("    listen {l};\n"));
        }
        b.push_str(&format!("    server_name {names};\n"));
        b.push_str("    if ($http_x_forwarded_proto = '') {\n        set $http_x_forwarded_proto $scheme;\n    }\n");
        b.push_str(&format!(
            "    rewrite ^/$ {public_path}webapp/ redirect;\n    rewrite ^{}/?(/webapp)?$ {public_path}webapp/ redirect;\n",
            public_path.trim_end_matches('/')
        ));
        b.push_str(docker);
        b.push_str("    chunked_transfer_encoding on;\n    client_max_body_size 0;\n");
        let location = |path: &str, target: &str| {
            format!(
                "    location {path} {{\n        proxy_read_timeout 2400s;\n        proxy_pass_header Server;\n        proxy_cookie_path ~*^/.* /;\n        proxy_buffering off;\n        proxy_request_buffering off;\n        proxy_http_version 1.1;\n        proxy_pass http://{backend}{target};\n        proxy_set_header X-Artifactory-Override-Base-Url $http_x_forwarded_proto://$host:$server_port{public_base};\n        proxy_set_header X-Forwarded-Port $server_port;\n        proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;\n        proxy_set_header Host $http_host;\n        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    }}\n"
            )
        };
        b.push_str(&location(&public_path, &app_path));
        if method == "REPOPATHPREFIX" {
            // The repository path method is served at the server root.
            b.push_str(&location("/v2/", "/v2/"));
        }
        b.push_str("}\n");
        b
    };
    let mut listens = Vec::new();
    if http {
        listens.push(n("httpPort").to_string());
    }
    if https {
        listens.push(format!("{} ssl", n("httpsPort")));
    }
    let escaped = server.replace('.', "\\.");
    let (names, docker) = match method.as_str() {
        "SUBDOMAIN" => (
            format!("~(?<repo>.+)\\.{escaped} {server}"),
            format!("    rewrite ^/(v1|v2)/(.*) {public_path}api/docker/$repo/$1/$2;\n"),
        ),
        _ => (server.clone(), String::new()),
    };
    out.push_str(&block(&listens, &names, &docker));
    if method == "PORTPERREPO" {
        for r in shown["reverseProxyRepositories"]["reverseProxyRepoConfigs"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let repo = r["repoRef"].as_str().unwrap_or("");
            let name = r["serverName"]
                .as_str()
                .filter(|x| !x.is_empty())
                .unwrap_or(&server);
            let port = r["port"].as_u64().unwrap_or(0);
            let listen = if https {
                format!("{port} ssl")
            } else {
                port.to_string()
            };
            out.push_str(&block(
                &[listen],
                name,
                &format!("    rewrite ^/(v1|v2)/(.*) {public_path}api/docker/{repo}/$1/$2;\n"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_filled_from_the_url_in_artifactorys_order() {
        let v = ReverseProxy::shown(None, "jcr.test", "artifactory", false, 8081);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "key",
                "artifactoryAppContext",
                "publicAppContext",
                "serverName",
                "artifactoryServerName",
                "artifactoryPort",
                "dockerReverseProxyMethod",
                "useHttps",
                "useHttp",
                "httpsPort",
                "httpPort"
            ]
        );
        assert_eq!(v["key"], "direct");
        assert_eq!(v["dockerReverseProxyMethod"], "SUBDOMAIN");
    }

    #[test]
    fn bad_values_are_refused() {
        for (doc, why) in [
            (
                json!({"webServerType": "IIS"}),
                "Field 'webServerType' must be one of",
            ),
            (
                json!({"httpPort": 70000}),
                "Field 'httpPort' must be a port",
            ),
            (
                json!({"useHttp": "yes"}),
                "Field 'useHttp' must be a boolean",
            ),
            (
                json!({"reverseProxyRepositories": {"reverseProxyRepoConfigs": [{"port": 5000}]}}),
                "needs a 'repoRef'",
            ),
        ] {
            let e = ReverseProxy::parse(&doc).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }
}
