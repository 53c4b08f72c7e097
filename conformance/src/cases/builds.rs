//! Builds. The reference server does not build the Builds API yet: what it must not do is answer
//! a build that is not there with the bare `404 Not Found` of a route that does not exist, which
//! clients read as "build missing" and tools read as "no such API".

use serde_json::json;

use crate::case::{Case, CaseFuture, Ctx};
use crate::check;

pub fn cases() -> Vec<Case> {
    vec![Case::new("builds/runs/missing-build", missing_build)
        .covers(["builds.runs", "builds.info"])
        .spec("jcr-rest-api.txt Build Runs, Build Info; behaviour §10.2 (the messages of a missing build); a server without the Builds API answers 501, never a bare 404")]
}

/// A build that does not exist: Artifactory's 404 with its message, or a 501 saying the API is
/// not supported; never a 2xx, never the bare `Not Found`.
fn missing_build(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let name = format!("{}-no-such-build", c.prefix);
        let asks = [
            (
                format!("api/build/{name}"),
                format!("No build was found for build name: {name}"),
            ),
            (
                format!("api/build/{name}/1"),
                format!("No build was found for build name: {name}, build number: 1 "),
            ),
        ];
        for (path, missing) in asks {
            let r = c.send(c.req("GET", &path)).await?;
            check!(
                !(200..300).contains(&r.status),
                "GET {path}: {} for a build that does not exist",
                r.status
            );
            if r.status == 501 {
                r.expect_content_type("application/json")?;
                let v = r.expect_json_subset(&json!({"errors": [{"status": 501}]}))?;
                let message = v["errors"][0]["message"].as_str().unwrap_or("");
                check!(
                    message.contains("not supported"),
                    "GET {path}: a 501 must say what is not supported: {message:?}"
                );
            } else {
                r.expect_rest_error(404, &missing)?;
            }
        }
        Ok(())
    })
}
