//! Artifactory's message texts, in one place: the errors the domain answers with, built as
//! [`ApiError`]s in their family. Clients match on these strings (and the behaviour facts name
//! their sources), so a text changes here or nowhere.

use crate::error::ApiError;

/// `repo:path`, as Artifactory prints repository paths in messages.
pub(crate) fn repo_path(repo: &str, path: &str) -> String {
    format!("{repo}:{path}")
}

// ---------- deploy ----------

/// 403: deploying into a path the caller may not deploy to.
pub(crate) fn deploy_forbidden(user: &str, repo: &str, path: &str) -> ApiError {
    ApiError::forbidden(format!(
        "The user: '{user}' is not permitted to deploy '{path}' into '{repo}:{path}'."
    ))
}

/// 403: replacing (or deleting) a file needs delete permission.
pub(crate) fn overwrite_forbidden(user: &str, repo: &str, path: &str) -> ApiError {
    ApiError::forbidden(format!(
        "Not enough permissions to delete/overwrite artifact '{repo}:{path}' (user: '{user}' needs DELETE permission)."
    ))
}

/// 403: matrix parameters on a deploy need annotate permission.
pub(crate) fn annotate_on_deploy_forbidden(user: &str, repo: &str, path: &str) -> ApiError {
    ApiError::forbidden(format!(
        "User {user} is not permitted to annotate '{repo}:{path}'."
    ))
}

/// 404: no local repository behind the key deployed to.
pub(crate) fn no_local_repository(key: &str) -> ApiError {
    ApiError::not_found(format!(
        "Could not find a local repository named {key} to deploy to."
    ))
}

/// 405: a virtual repository without a default deployment repository.
pub(crate) fn no_deployment_repository(key: &str) -> ApiError {
    ApiError::new(
        405,
        format!("No local repository was configured as local deployment repository for the ({key}) virtual repository."),
    )
    .with_header("allow", "GET")
}

/// 409: a file and a folder at one path.
pub(crate) fn file_folder_conflict(repo: &str, at: &str) -> ApiError {
    ApiError::conflict(format!(
        "Cannot deploy to '{repo}:{at}': a file and a folder cannot share a path."
    ))
}

/// 409: the `:properties` / `:metadata` suffixes of Artifactory 2.
pub(crate) fn old_metadata_notation(repo: &str, path: &str) -> ApiError {
    ApiError::conflict(format!(
        "Old metadata notation is not supported anymore: {repo}:{path}"
    ))
}

/// 400: the deploy body ended in an error.
pub(crate) fn body_unreadable(why: &str) -> ApiError {
    ApiError::bad_request(format!("Failed to read the request body: {why}"))
}

/// 413: a body over the configured limit.
pub(crate) fn too_large() -> ApiError {
    ApiError::new(413, "Request body is too large")
}

/// 404: deploy by checksum found nothing to link.
pub(crate) fn checksum_deploy_failed(why: &str) -> ApiError {
    ApiError::not_found(format!("Checksum deploy failed. {why}"))
}

/// 409: the CLIENT checksum policy refused a deploy whose sent checksums are not the content's.
/// `rows` are (type, sent, actual) for SHA-1, MD5 and SHA-256.
pub(crate) fn checksum_policy(
    repo: &str,
    path: &str,
    rows: [(&str, Option<&str>, &str); 3],
) -> ApiError {
    let info = |(t, sent, actual): (&str, Option<&str>, &str)| {
        format!(
            "{t}=ChecksumInfo{{type={t}, original='{}', actual='{actual}'}}",
            sent.unwrap_or("null")
        )
    };
    let [a, b, c] = rows;
    ApiError::conflict(format!(
        "Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the artifact '{repo}:{path}'. Checksums info: ChecksumsInfo{{checksums={{{}, {}, {}}}}}",
        info(a),
        info(b),
        info(c)
    ))
}

// ---------- delete ----------

/// 403: deleting the content of a whole repository is for administrators.
pub(crate) fn delete_repository_content_forbidden(repo: &str, user: &str) -> ApiError {
    ApiError::forbidden(format!(
        "Not enough permissions to delete content of repository '{repo}' (by user: '{user}'). This requires admin privileges."
    ))
}

/// 404: nothing at the path deleted.
pub(crate) fn nothing_to_delete(repo: &str, path: &str) -> ApiError {
    ApiError::not_found(format!(
        "Could not locate artifact '{repo}:{path}' (Nothing to delete)."
    ))
}

// ---------- properties ----------

/// 400: a property key that does not start with a letter or holds special characters.
pub(crate) fn invalid_property_key(key: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Property key: {key} is invalid due to Name must start with a letter and cannot contain whitespace or special characters"
    ))
}

/// 403: changing properties without annotate permission.
pub(crate) fn annotate_forbidden(user: &str, repo: &str, path: &str) -> ApiError {
    ApiError::forbidden(format!(
        "User '{user}' is not permitted to annotate '{repo}:{path}'."
    ))
}

/// 404: the storage API's item that is not there.
pub(crate) fn unable_to_find_item() -> ApiError {
    ApiError::not_found("Unable to find item")
}

/// 404: a retrieve that found nothing.
pub(crate) fn file_not_found() -> ApiError {
    ApiError::not_found("File not found.")
}
