//! Artifactory's message texts, in one place: the errors the domain answers with, built as
//! [`ApiError`]s in their family. Clients match on these strings (and the behaviour facts name
//! their sources), so a text changes here or nowhere.

use crate::error::ApiError;

// ---------- who is calling ----------

/// 401: credentials that match no user, key or token.
pub(crate) fn bad_credentials() -> ApiError {
    ApiError::unauthorized("Bad credentials")
}

/// 401: no credentials where anonymous access is off.
pub(crate) fn authentication_required() -> ApiError {
    ApiError::unauthorized("Authentication is required")
}

/// 401: an anonymous caller (with anonymous access on) that may not do what it asked.
pub(crate) fn unauthorized() -> ApiError {
    ApiError::unauthorized("Unauthorized")
}

/// 403: an authenticated caller without the right (administrator endpoints).
pub(crate) fn forbidden() -> ApiError {
    ApiError::forbidden("Forbidden")
}

/// 404: no such route, user, group or permission target.
pub(crate) fn not_found() -> ApiError {
    ApiError::not_found("Not Found")
}

/// 405 in the REST shape.
pub(crate) fn method_not_allowed() -> ApiError {
    ApiError::new(405, "Method Not Allowed")
}

// ---------- retrieve, storage API, searches ----------

/// 404: a repository the request names does not exist.
pub(crate) fn no_such_repository(repo: &str) -> ApiError {
    ApiError::not_found(format!(
        "Failed to find the repository '{repo}' specified in the request."
    ))
}

/// 404: an item without the properties asked for.
pub(crate) fn no_properties() -> ApiError {
    ApiError::not_found("No properties could be found.")
}

/// 400: `?lastModified` on a repository that is not local.
pub(crate) fn local_or_cached_only() -> ApiError {
    ApiError::bad_request("This method can only be invoked on local/cached repositories.")
}

/// 403: `?list` for an anonymous caller.
pub(crate) fn authenticated_only() -> ApiError {
    ApiError::forbidden("This resource is available to authenticated users only.")
}

/// 404: a search that found nothing (the date and usage searches).
pub(crate) fn no_results() -> ApiError {
    ApiError::not_found("No results found.")
}

/// 400 (plain text): an empty search term.
pub(crate) const EMPTY_TERM: &str = "The search term cannot be empty";

/// 400 (plain text): a search term of wildcards only.
pub(crate) const ONLY_WILDCARDS: &str = "Search term containing only wildcards is not permitted";

// ---------- tokens ----------

/// OAuth 400: a grant type the endpoint does not know.
pub(crate) fn unsupported_grant(grant: &str) -> ApiError {
    ApiError::oauth(
        "unsupported_grant_type",
        format!("Grant type is not supported: {grant}"),
    )
}

/// OAuth 400: `username` missing from a token request.
pub(crate) fn username_required() -> ApiError {
    ApiError::oauth("invalid_request", "username is required")
}

/// OAuth 400: a custom audience on a token that cannot carry one.
pub(crate) fn audience_needs_refreshable() -> ApiError {
    ApiError::oauth(
        "invalid_request",
        "Only refreshable tokens with expiry can have custom audience",
    )
}

/// OAuth 400: a scope that names nothing the caller may give.
pub(crate) fn insufficient_scope() -> ApiError {
    ApiError::oauth("invalid_scope", "Insufficient scope: 'api:*'")
}

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

/// A path the repository's include/exclude patterns refuse: 409 for a deploy, 404 for a download.
pub(crate) fn include_exclude(status: u16, repo: &str, path: &str) -> ApiError {
    ApiError::new(
        status,
        format!(
            "The repository '{repo}' rejected the artifact '{repo}:{path}' due to its include/exclude pattern settings."
        ),
    )
}

/// 403: a blacked-out repository.
pub(crate) fn blacked_out(repo: &str, path: &str) -> ApiError {
    ApiError::forbidden(format!(
        "The repository '{repo}' is blacked out and cannot serve artifact '{repo}:{path}'."
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

// ---------- copy and move ----------

/// 403: copying or moving a source the caller may not read.
pub(crate) fn request_forbidden(id: &str, user: &str) -> ApiError {
    ApiError::forbidden(format!(
        "Request for '{id}' is forbidden for user: '{user}'."
    ))
}

/// 403: a move needs delete on every source file.
pub(crate) fn move_needs_delete(id: &str) -> ApiError {
    ApiError::forbidden(format!(
        "User doesn't have permissions to move '{id}'. Needs delete permissions."
    ))
}

/// 403: a copy or move into a place the caller may not deploy to.
pub(crate) fn deploy_into_forbidden(user: &str, id: &str) -> ApiError {
    ApiError::forbidden(format!(
        "User '{user}' is not permitted to deploy into '{id}'."
    ))
}

/// 403: replacing a file at the target needs delete there.
pub(crate) fn override_needs_delete(id: &str) -> ApiError {
    ApiError::forbidden(format!(
        "User doesn't have permissions to override '{id}'. Needs delete permissions."
    ))
}

/// 409 (copy/move messages): a transfer that cannot be done; `action` is `copy` or `move`.
pub(crate) fn transfer_failed(
    action: &str,
    src: (&str, &str),
    dst: (&str, &str),
    why: &str,
) -> ApiError {
    ApiError::messages(
        409,
        format!(
            "Failed to {action} from src={}/{} to target={}/{}: {why}",
            src.0, src.1, dst.0, dst.1
        ),
    )
}

/// 409 (copy/move messages): a file and a folder at one landing path.
pub(crate) fn cannot_override_path(repo: &str, path: &str) -> ApiError {
    ApiError::messages(
        409,
        format!("Cannot create/override the path '{repo}:{path}'. Skipping this path and all its children."),
    )
}

// ---------- repositories ----------

/// 400: a repository key taken, whatever its case.
pub(crate) fn repository_exists() -> ApiError {
    ApiError::bad_request("Case insensitive repository key already exists")
}

/// 400: what Artifactory answers for a repository that is not there (get, update).
pub(crate) fn bad_request() -> ApiError {
    ApiError::bad_request("Bad Request")
}

/// 404: deleting a repository that is not there.
pub(crate) fn no_repository(key: &str) -> ApiError {
    ApiError::not_found(format!("Repository {key} does not exist"))
}

// ---------- API keys (UI feedback) ----------

/// 403: anonymous callers have no key.
pub(crate) fn anonymous_api_key() -> ApiError {
    ApiError::feedback(403, "Anonymous users cannot create an API key")
}

/// 403: a token limited to groups minting a key for the whole user.
pub(crate) fn group_token_mints_key() -> ApiError {
    ApiError::feedback(
        403,
        "The use of a group-scoped access token as authentication is forbidden for this api call",
    )
}

/// 403: another user's key, for a caller who is not an administrator.
pub(crate) fn others_api_key() -> ApiError {
    ApiError::feedback(
        403,
        "Only administrators may manage the API key of another user",
    )
}

/// 403: regenerating a key while authenticated with it.
pub(crate) fn api_key_regenerates_itself() -> ApiError {
    ApiError::feedback(
        403,
        "The use of apiKey as authentication is forbidden for this api call",
    )
}

/// 403: revoking every key is for administrators.
pub(crate) fn revoke_all_keys_forbidden() -> ApiError {
    ApiError::feedback(403, "Only administrators may revoke all API keys")
}

/// 400: a user who has a key already.
pub(crate) fn api_key_exists(user: &str) -> ApiError {
    ApiError::feedback(400, format!("Api key already exists for user: {user}"))
}

/// 400: an archive entry larger than the server serves (a zip bomb's claim, say).
pub(crate) fn archive_entry_too_large(max: u64) -> ApiError {
    ApiError::bad_request(format!(
        "The archive entry is larger than {} MiB, the most this server inflates",
        max >> 20
    ))
}

// ---------- builds ----------

/// 400: a build-info document that is not JSON (or not an object).
pub(crate) fn build_unreadable(why: &dyn std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("Could not parse the build-info document: {why}"))
}

/// 400: a build-info document without its name, number or start.
pub(crate) fn build_incomplete() -> ApiError {
    ApiError::bad_request("Build model must contain build name, number and started timestamp")
}

/// 400: a `started` that is not `yyyy-MM-dd'T'HH:mm:ss.SSSZ`.
pub(crate) fn build_bad_started(started: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Build started date '{started}' is not of the format yyyy-MM-dd'T'HH:mm:ss.SSSZ"
    ))
}

/// 404: no build at all (or none the caller may read).
pub(crate) fn no_builds() -> ApiError {
    ApiError::not_found("No builds were found")
}

/// 404: no run of this build.
pub(crate) fn no_build_named(name: &str) -> ApiError {
    ApiError::not_found(format!("No build was found for build name: {name}"))
}

/// 404: no such run (the trailing space stays when no start was asked for).
pub(crate) fn no_build_run(name: &str, number: &str, started: Option<&str>) -> ApiError {
    let started = started
        .map(|s| format!("build started: {s}"))
        .unwrap_or_default();
    ApiError::not_found(format!(
        "No build was found for build name: {name}, build number: {number} {started}"
    ))
}

/// 400: `?diff=null`.
pub(crate) fn diff_without_value() -> ApiError {
    ApiError::bad_request("Parameter 'diff' must contain a value, if specified.")
}

/// 400: the build to compare against started after the one compared.
pub(crate) fn diff_older_is_newer() -> ApiError {
    ApiError::bad_request(
        "Build number should be greater than the build number to compare against.",
    )
}

/// 400: a build delete without a name.
pub(crate) fn build_name_missing() -> ApiError {
    ApiError::bad_request("Missing build name")
}

/// 400: a build delete without numbers (and not deleting all).
pub(crate) fn build_numbers_missing() -> ApiError {
    ApiError::bad_request("Missing build numbers")
}

/// 403: removing or renaming a build without delete permission on it.
pub(crate) fn build_delete_forbidden(user: &str, name: &str) -> ApiError {
    ApiError::forbidden(format!(
        "User '{user}' is not permitted to delete build '{name}'"
    ))
}

/// 403: promoting a build without the manage permission on it.
pub(crate) fn build_promote_forbidden(user: &str, name: &str) -> ApiError {
    ApiError::forbidden(format!(
        "User '{user}' is not permitted to promote build '{name}'"
    ))
}

/// 400: a rename without `to`.
pub(crate) fn build_rename_target_missing() -> ApiError {
    ApiError::bad_request("Build rename request must contain a new build name")
}

/// 400 (plain text): a retention count of 0.
pub(crate) fn retention_count_not_positive() -> ApiError {
    ApiError::text(400, "Max count retention needs to be a positive number")
}

/// 404: the build a diff compares against does not exist (the spaces are Artifactory's).
pub(crate) fn no_older_build(name: &str, number: &str) -> ApiError {
    ApiError::not_found(format!(
        "No build was found for build name: {name} , build number: {number} "
    ))
}

/// 404: promotion to or from a repository that does not exist.
pub(crate) fn promotion_no_repository(repo: &str) -> ApiError {
    ApiError::not_found(format!(
        "Cannot find target repository by the key '{repo}'."
    ))
}

/// 404: promotion of a build run that does not exist (Artifactory 7's text).
pub(crate) fn promotion_no_build(name: &str, number: &str) -> ApiError {
    ApiError::not_found(format!(
        "Cannot find builds by the name '{name}' and the number '{number}' and buildRepo 'artifactory-build-info'."
    ))
}

/// 400: a build whose files are nowhere to be found.
pub(crate) fn promotion_no_artifacts(name: &str, number: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Unable to find artifacts of build '{name}' #{number}: aborting promotion."
    ))
}

/// 400: a distribution without `targetRepo`.
pub(crate) fn distribution_no_target() -> ApiError {
    ApiError::messages(
        400,
        "The target repository (targetRepo) is required for distribution.",
    )
}
