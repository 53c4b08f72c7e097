//! Mime types by file extension, as Artifactory's default `mimetypes.xml` assigns them.

/// The mime type for a file name; `application/octet-stream` when unknown.
pub fn for_name(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") {
        return "application/x-gzip";
    }
    let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "md5" | "sha1" | "sha256" => "application/x-checksum",
        "txt" | "properties" | "mf" | "asc" | "log" | "yml" | "yaml" => "text/plain",
        "json" => "application/json",
        "zip" => "application/zip",
        "tgz" | "gz" => "application/x-gzip",
        "jar" | "war" | "ear" | "sar" | "har" | "rar" => "application/java-archive",
        "pom" => "application/x-maven-pom+xml",
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" => "application/javascript",
        "tar" => "application/x-tar",
        "bz2" => "application/x-bzip2",
        "gif" => "image/gif",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "java" | "groovy" | "gradle" | "sh" | "csv" => "text/plain",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::for_name;

    #[test]
    fn table() {
        assert_eq!(for_name("a.txt"), "text/plain");
        assert_eq!(for_name("chart-1.0.tgz"), "application/x-gzip");
        assert_eq!(for_name("x.tar.gz"), "application/x-gzip");
        assert_eq!(for_name("lib.JAR"), "application/java-archive");
        assert_eq!(for_name("README-0.0.1.md"), "application/octet-stream");
        assert_eq!(for_name("a.jar.sha1"), "application/x-checksum");
        assert_eq!(for_name("noext"), "application/octet-stream");
    }
}
