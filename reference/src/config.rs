//! Configuration: one [`Config`], filled from defaults, a config file (YAML or TOML), environment
//! variables (prefix `JCR_`) and command-line flags. Precedence, lowest first:
//! defaults < config file < environment < flags. For the repository and user lists, the
//! highest-precedence source that names any replaces the lists of the lower ones.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;

/// Repository class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoClass {
    /// Holds deployed artifacts.
    Local,
    /// Proxies an upstream URL.
    Remote,
    /// Aggregates other repositories.
    Virtual,
}

impl RepoClass {
    /// `LOCAL` / `REMOTE` / `VIRTUAL` as in the repositories list.
    pub fn upper(self) -> &'static str {
        match self {
            RepoClass::Local => "LOCAL",
            RepoClass::Remote => "REMOTE",
            RepoClass::Virtual => "VIRTUAL",
        }
    }

    /// `local` / `remote` / `virtual` as in `rclass`.
    pub fn lower(self) -> &'static str {
        match self {
            RepoClass::Local => "local",
            RepoClass::Remote => "remote",
            RepoClass::Virtual => "virtual",
        }
    }

    /// Parses `local`/`remote`/`virtual`, any case.
    pub fn parse(s: &str) -> Option<RepoClass> {
        match s.to_ascii_lowercase().as_str() {
            "local" => Some(RepoClass::Local),
            "remote" => Some(RepoClass::Remote),
            "virtual" => Some(RepoClass::Virtual),
            _ => None,
        }
    }
}

/// Package type (the ones a JFrog Container Registry supports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageType {
    /// Generic files.
    Generic,
    /// Docker / OCI images.
    Docker,
    /// Helm charts.
    Helm,
}

impl PackageType {
    /// `Generic` / `Docker` / `Helm` as in the repositories list.
    pub fn display(self) -> &'static str {
        match self {
            PackageType::Generic => "Generic",
            PackageType::Docker => "Docker",
            PackageType::Helm => "Helm",
        }
    }

    /// `generic` / `docker` / `helm` as in repository configuration JSON.
    pub fn lower(self) -> &'static str {
        match self {
            PackageType::Generic => "generic",
            PackageType::Docker => "docker",
            PackageType::Helm => "helm",
        }
    }

    /// Parses a package type name, any case.
    pub fn parse(s: &str) -> Option<PackageType> {
        match s.to_ascii_lowercase().as_str() {
            "generic" => Some(PackageType::Generic),
            "docker" => Some(PackageType::Docker),
            "helm" => Some(PackageType::Helm),
            _ => None,
        }
    }
}

/// One repository's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoConfig {
    /// Repository key.
    pub key: String,
    /// Class.
    pub rclass: RepoClass,
    /// Package type.
    pub package_type: PackageType,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Free text.
    #[serde(default)]
    pub notes: String,
    /// Ant pattern of paths accepted.
    #[serde(default = "default_includes")]
    pub includes_pattern: String,
    /// Ant pattern of paths refused.
    #[serde(default)]
    pub excludes_pattern: String,
    /// Upstream URL (remote).
    #[serde(default)]
    pub url: Option<String>,
    /// Member repositories (virtual).
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Where deploys to a virtual repository go.
    #[serde(default)]
    pub default_deployment_repo: Option<String>,
    /// Every other field of Artifactory's repository JSON that was set, as set (see
    /// `repos::settings` for the ones with behaviour and the defaults of the rest).
    #[serde(default, skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub settings: indexmap::IndexMap<String, serde_json::Value>,
    /// The upstream password (remote), sealed in the journal like every secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<crate::store::Secret>,
}

fn default_includes() -> String {
    "**/*".to_string()
}

impl RepoConfig {
    /// A repository with default settings.
    pub fn new(key: &str, rclass: RepoClass, package_type: PackageType) -> RepoConfig {
        RepoConfig {
            key: key.to_string(),
            rclass,
            package_type,
            description: String::new(),
            notes: String::new(),
            includes_pattern: default_includes(),
            excludes_pattern: String::new(),
            url: None,
            repositories: Vec::new(),
            default_deployment_repo: None,
            settings: indexmap::IndexMap::new(),
            password: None,
        }
    }

    /// Parses the `--repo` form `KEY[:CLASS[:TYPE]]`.
    pub fn parse_flag(s: &str) -> Result<RepoConfig, String> {
        let mut parts = s.split(':');
        let key = parts
            .next()
            .filter(|k| valid_repo_key(k))
            .ok_or(format!("invalid repository key in '{s}'"))?;
        let class = match parts.next() {
            Some(c) => RepoClass::parse(c).ok_or(format!("unknown repository class '{c}'"))?,
            None => RepoClass::Local,
        };
        let pt = match parts.next() {
            Some(t) => PackageType::parse(t).ok_or(format!("unknown package type '{t}'"))?,
            None => PackageType::Generic,
        };
        Ok(RepoConfig::new(key, class, pt))
    }
}

/// Whether `k` can be a repository key: 1-64 chars of letters, digits, `-`, `_`, `.`, not starting with
/// `.` and not one of the reserved words.
pub fn valid_repo_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && !k.starts_with('.')
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !matches!(
            k,
            "api" | "ui" | "list" | "webapp" | "repo" | "favicon.ico" | "v2"
        )
}

/// A user the server knows from its configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub name: String,
    /// Clear-text password.
    pub password: String,
    /// Whether the user is an administrator.
    #[serde(default)]
    pub admin: bool,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Groups (default: the groups new users join automatically, `readers` on a fresh instance).
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// A group the server knows from its configuration (the store's own group record:
/// `name`, `description`, `auto_join`, `admin_privileges`).
pub use crate::auth::model::Group as GroupConfig;

/// A permission target from the configuration: `users`/`groups` map names to action letters
/// (`r` read, `n` annotate, `w` deploy, `d` delete, `m` manage), e.g. `{bob: "rw"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionConfig {
    /// Name.
    pub name: String,
    /// Repository keys or `ANY`, `ANY LOCAL`, `ANY REMOTE`.
    pub repositories: Vec<String>,
    /// Included path patterns (default `**`).
    #[serde(default = "all_paths")]
    pub includes_pattern: String,
    /// Excluded path patterns.
    #[serde(default)]
    pub excludes_pattern: String,
    /// Actions per user.
    #[serde(default)]
    pub users: std::collections::BTreeMap<String, String>,
    /// Actions per group.
    #[serde(default)]
    pub groups: std::collections::BTreeMap<String, String>,
}

fn all_paths() -> String {
    "**".into()
}

impl UserConfig {
    /// Parses the `--user` form `NAME:PASSWORD[:admin]`.
    pub fn parse_flag(s: &str) -> Result<UserConfig, String> {
        let mut parts = s.splitn(3, ':');
        let name = parts
            .next()
            .filter(|n| !n.is_empty())
            .ok_or(format!("missing user name in '{s}'"))?;
        let password = parts.next().ok_or(format!("missing password in '{s}'"))?;
        let admin = match parts.next() {
            None => false,
            Some("admin") => true,
            Some(o) => return Err(format!("unknown user flag '{o}' (only 'admin')")),
        };
        Ok(UserConfig {
            name: name.into(),
            password: password.into(),
            admin,
            email: None,
            groups: None,
        })
    }
}

/// The server's whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Context path, `/artifactory` by default; `""` serves at the root.
    pub context_path: String,
    /// Custom URL base used in absolute URLs instead of the request's host.
    pub base_url: Option<String>,
    /// Where state lives; `None` means a temporary directory removed at exit.
    pub data_dir: Option<PathBuf>,
    /// Whether anonymous requests may read (off by default, as in JCR 7).
    pub anonymous_access: bool,
    /// Repositories of a fresh instance.
    pub repositories: Vec<RepoConfig>,
    /// Users; the admin is `admin` / `password` unless one named `admin` is given. Seeded when the
    /// store does not know them yet (a data directory keeps passwords changed at run time).
    pub users: Vec<UserConfig>,
    /// Groups, seeded like users.
    pub groups: Vec<GroupConfig>,
    /// Permission targets, seeded like users.
    pub permissions: Vec<PermissionConfig>,
    /// Largest accepted artifact body in bytes (`None`: no limit).
    pub max_upload: Option<u64>,
    /// Run garbage collection every this many seconds (`None` or 0: only on request).
    pub gc_interval_secs: Option<u64>,
    /// A client that sends nothing of its request headers, or of a body it started, for this many
    /// seconds is cut off (nginx's `client_header_timeout` / `client_body_timeout`, 60 s).
    pub idle_timeout_secs: u64,
    /// Connections served at once; more wait in the listen queue (`None`: the open-file limit less
    /// a margin for the store's own files).
    pub max_connections: Option<usize>,
    /// The one folder system exports write under and imports read from (`None`: `export/` in the
    /// data directory). Paths outside it, or reaching outside it through a link, are refused.
    pub export_root: Option<PathBuf>,
    /// A system export (a folder in Artifactory's layout, or its zip) imported at start and made the
    /// seed the control API's reset puts back: repositories, content with properties and
    /// statistics, builds, users, groups, permission targets.
    pub seed: Option<PathBuf>,
    /// Docker images pushed at start (after `seed`) and part of the seed: `<dir>/<repository
    /// key>/<image name>/` is an OCI image layout, each manifest of its `index.json` pushed by its
    /// `org.opencontainers.image.ref.name` tag (or by digest without one).
    pub seed_images: Option<PathBuf>,
    /// The clock.
    pub clock: Clock,
    /// Deliberate faults, for proving that a conformance suite can fail. Never set outside tests.
    #[doc(hidden)]
    pub faults: Faults,
}

/// Deliberate deviations from Artifactory's behaviour, applied to responses by one layer of the router
/// (`http::faults`). Test-only: the conformance suite must fail against a server with any of them.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Leave out the `X-Checksum-*` headers.
    pub drop_checksum_headers: bool,
    /// Send `size` as a JSON number instead of a string.
    pub size_as_number: bool,
    /// Answer 200 instead of 404.
    pub ok_instead_of_not_found: bool,
    /// Leave out `WWW-Authenticate` on 401.
    pub drop_www_authenticate: bool,
    /// Leave the last child out of folder info.
    pub drop_folder_child: bool,
    /// Read only the first line of a request header sent on several (the defect of a server that
    /// reads `Accept` as one line).
    pub first_header_line_only: bool,
    /// Swap the first two fields of every JSON object answer (`{"path", "repo", ...}`).
    pub swap_field_order: bool,
    /// Print timestamps without their milliseconds (`2026-12-03T10:00:00Z`).
    pub timestamps_without_millis: bool,
    /// Print UTC as `+00:00` instead of `Z`.
    pub timestamps_with_offset: bool,
    /// Print the numbers of AQL rows (`size`) as strings.
    pub aql_numbers_as_strings: bool,
    /// Reverse the lists clients read in order: the repositories list, folder children.
    pub reverse_lists: bool,
    /// Answer JSON on one line, without Jackson's pretty printing.
    pub compact_json: bool,
}

impl Faults {
    /// Whether any fault is on.
    pub fn any(&self) -> bool {
        *self != Faults::default()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8081)),
            context_path: "/artifactory".into(),
            base_url: None,
            data_dir: None,
            anonymous_access: false,
            repositories: default_repositories(),
            users: with_admin(vec![]),
            groups: vec![],
            permissions: vec![],
            max_upload: None,
            gc_interval_secs: Some(3600),
            export_root: None,
            seed: None,
            seed_images: None,
            idle_timeout_secs: 60,
            max_connections: None,
            clock: Clock::system(),
            faults: Faults::default(),
        }
    }
}

/// `generic-local`, `docker-local`, `helm-local`, `artifactory-build-info`.
pub fn default_repositories() -> Vec<RepoConfig> {
    vec![
        RepoConfig::new("generic-local", RepoClass::Local, PackageType::Generic),
        RepoConfig::new("docker-local", RepoClass::Local, PackageType::Docker),
        RepoConfig::new("helm-local", RepoClass::Local, PackageType::Helm),
        RepoConfig {
            description: "Build Info repository".into(),
            ..RepoConfig::new(
                "artifactory-build-info",
                RepoClass::Local,
                PackageType::Generic,
            )
        },
    ]
}

impl Config {
    /// A configuration for tests: binds `127.0.0.1:0`, everything else default.
    pub fn ephemeral() -> Config {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Config::default()
        }
    }

    /// Normalises the context path to `/x/y` (or `""`).
    pub fn normalized_context_path(&self) -> String {
        let t = self.context_path.trim_matches('/');
        if t.is_empty() {
            String::new()
        } else {
            format!("/{t}")
        }
    }

    /// Builds the configuration from command-line arguments (and the environment).
    pub fn from_args<I, T>(args: I) -> Result<Config, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
        cli.into_config()
    }
}

/// Command-line flags; each also reads an environment variable with the `JCR_` prefix.
#[derive(Parser, Debug)]
#[command(
    name = "jcr-reference",
    version,
    about = "A reference JFrog Container Registry server for tests"
)]
pub struct Cli {
    /// Config file (YAML if it ends in .yaml/.yml, TOML otherwise).
    #[arg(long, env = "JCR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to bind (port 0 picks a free port). Default 127.0.0.1:8081.
    #[arg(long, env = "JCR_BIND")]
    pub bind: Option<SocketAddr>,
    /// Context path. Default /artifactory.
    #[arg(long, env = "JCR_CONTEXT_PATH")]
    pub context_path: Option<String>,
    /// Custom URL base for absolute URLs in responses.
    #[arg(long, env = "JCR_BASE_URL")]
    pub base_url: Option<String>,
    /// Keep state here across restarts (default: a temporary directory removed at exit).
    #[arg(long, env = "JCR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Allow anonymous read access (true/false). Default false.
    #[arg(long, env = "JCR_ANONYMOUS_ACCESS")]
    pub anonymous_access: Option<bool>,
    /// Repository KEY[:local|remote|virtual[:generic|docker|helm]]; repeatable (env: comma-separated).
    #[arg(long = "repo", env = "JCR_REPOS", value_delimiter = ',')]
    pub repos: Vec<String>,
    /// User `NAME:PASSWORD[:admin]`; repeatable (env: comma-separated).
    #[arg(long = "user", env = "JCR_USERS", value_delimiter = ',')]
    pub users: Vec<String>,
    /// Largest accepted artifact body, in bytes.
    #[arg(long, env = "JCR_MAX_UPLOAD")]
    pub max_upload: Option<u64>,
    /// Seconds between background garbage collections (0 = only `POST /api/system/storage/gc`). Default 3600.
    #[arg(long, env = "JCR_GC_INTERVAL")]
    pub gc_interval: Option<u64>,
    /// Seconds a client may send nothing of its headers or of a body it started before it is cut off. Default 60.
    #[arg(long, env = "JCR_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,
    /// Connections served at once (more wait to be accepted). Default: the open-file limit less 256.
    #[arg(long, env = "JCR_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// The folder system exports and imports are confined to. Default: export/ in the data directory.
    #[arg(long, env = "JCR_EXPORT_ROOT")]
    pub export_root: Option<PathBuf>,
    /// A system export (folder or zip) imported at start and made the seed of /_reference/reset.
    #[arg(long, env = "JCR_SEED")]
    pub seed: Option<PathBuf>,
    /// Docker images pushed at start from OCI image layouts, DIR/<repository>/<image>/, tagged by
    /// their org.opencontainers.image.ref.name; part of the seed.
    #[arg(long, env = "JCR_SEED_IMAGES", value_name = "DIR")]
    pub seed_images: Option<PathBuf>,
}

/// The config-file format.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See [`Config::bind`].
    pub bind: Option<SocketAddr>,
    /// See [`Config::context_path`].
    pub context_path: Option<String>,
    /// See [`Config::base_url`].
    pub base_url: Option<String>,
    /// See [`Config::data_dir`].
    pub data_dir: Option<PathBuf>,
    /// See [`Config::anonymous_access`].
    pub anonymous_access: Option<bool>,
    /// See [`Config::max_upload`].
    pub max_upload: Option<u64>,
    /// See [`Config::gc_interval_secs`].
    pub gc_interval: Option<u64>,
    /// See [`Config::idle_timeout_secs`].
    pub idle_timeout: Option<u64>,
    /// See [`Config::max_connections`].
    pub max_connections: Option<usize>,
    /// See [`Config::export_root`].
    pub export_root: Option<PathBuf>,
    /// See [`Config::seed`].
    pub seed: Option<PathBuf>,
    /// See [`Config::seed_images`].
    pub seed_images: Option<PathBuf>,
    /// Repositories.
    pub repositories: Option<Vec<FileRepo>>,
    /// Users.
    pub users: Option<Vec<UserConfig>>,
    /// Groups.
    pub groups: Option<Vec<GroupConfig>>,
    /// Permission targets.
    pub permissions: Option<Vec<PermissionConfig>>,
}

/// A repository in the config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRepo {
    /// Key.
    pub key: String,
    /// `local` (default), `remote` or `virtual`.
    #[serde(default)]
    pub class: Option<String>,
    /// `generic` (default), `docker` or `helm`.
    #[serde(default, rename = "type")]
    pub package_type: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Upstream URL (remote).
    #[serde(default)]
    pub url: Option<String>,
    /// Members (virtual).
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Default deployment repository (virtual).
    #[serde(default)]
    pub default_deployment_repo: Option<String>,
}

impl FileRepo {
    fn into_repo(self) -> Result<RepoConfig, String> {
        if !valid_repo_key(&self.key) {
            return Err(format!("invalid repository key '{}'", self.key));
        }
        let class = match self.class.as_deref() {
            None => RepoClass::Local,
            Some(c) => RepoClass::parse(c).ok_or(format!("unknown repository class '{c}'"))?,
        };
        let pt = match self.package_type.as_deref() {
            None => PackageType::Generic,
            Some(t) => PackageType::parse(t).ok_or(format!("unknown package type '{t}'"))?,
        };
        Ok(RepoConfig {
            description: self.description.unwrap_or_default(),
            url: self.url,
            repositories: self.repositories,
            default_deployment_repo: self.default_deployment_repo,
            ..RepoConfig::new(&self.key, class, pt)
        })
    }
}

/// Parses a config file's text; `yaml` picks YAML over TOML.
pub fn parse_file(text: &str, yaml: bool) -> Result<FileConfig, String> {
    if yaml {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    } else {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

impl Cli {
    /// Merges defaults, file, environment and flags.
    pub fn into_config(self) -> Result<Config, String> {
        let mut c = Config::default();
        if let Some(path) = &self.config {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            );
            let f = parse_file(&text, yaml).map_err(|e| format!("{}: {e}", path.display()))?;
            apply_file(&mut c, f)?;
        }
        Scalars {
            bind: self.bind,
            context_path: self.context_path,
            base_url: self.base_url,
            data_dir: self.data_dir,
            anonymous_access: self.anonymous_access,
            gc_interval: self.gc_interval,
            max_upload: self.max_upload,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            export_root: self.export_root,
            seed: self.seed,
            seed_images: self.seed_images,
        }
        .apply(&mut c);
        if !self.repos.is_empty() {
            c.repositories = self
                .repos
                .iter()
                .map(|r| RepoConfig::parse_flag(r))
                .collect::<Result<_, _>>()?;
        }
        if !self.users.is_empty() {
            let users: Vec<UserConfig> = self
                .users
                .iter()
                .map(|u| UserConfig::parse_flag(u))
                .collect::<Result<_, _>>()?;
            c.users = with_admin(users);
        }
        check_unique_keys(&c.repositories)?;
        check_permissions(&c.permissions)?;
        Ok(c)
    }
}

/// The single-valued options, as one source (the file, or the flags and environment) sets them:
/// each one given replaces what a lower source set.
struct Scalars {
    bind: Option<SocketAddr>,
    context_path: Option<String>,
    base_url: Option<String>,
    data_dir: Option<PathBuf>,
    anonymous_access: Option<bool>,
    gc_interval: Option<u64>,
    max_upload: Option<u64>,
    idle_timeout: Option<u64>,
    max_connections: Option<usize>,
    export_root: Option<PathBuf>,
    seed: Option<PathBuf>,
    seed_images: Option<PathBuf>,
}

impl Scalars {
    fn apply(self, c: &mut Config) {
        if let Some(b) = self.bind {
            c.bind = b;
        }
        if let Some(p) = self.context_path {
            c.context_path = p;
        }
        if self.base_url.is_some() {
            c.base_url = self.base_url;
        }
        if self.data_dir.is_some() {
            c.data_dir = self.data_dir;
        }
        if let Some(a) = self.anonymous_access {
            c.anonymous_access = a;
        }
        if self.gc_interval.is_some() {
            c.gc_interval_secs = self.gc_interval;
        }
        if self.max_upload.is_some() {
            c.max_upload = self.max_upload;
        }
        if let Some(t) = self.idle_timeout {
            c.idle_timeout_secs = t;
        }
        if self.max_connections.is_some() {
            c.max_connections = self.max_connections;
        }
        if self.export_root.is_some() {
            c.export_root = self.export_root;
        }
        if self.seed.is_some() {
            c.seed = self.seed;
        }
        if self.seed_images.is_some() {
            c.seed_images = self.seed_images;
        }
    }
}

fn apply_file(c: &mut Config, f: FileConfig) -> Result<(), String> {
    Scalars {
        bind: f.bind,
        context_path: f.context_path,
        base_url: f.base_url,
        data_dir: f.data_dir,
        anonymous_access: f.anonymous_access,
        gc_interval: f.gc_interval,
        max_upload: f.max_upload,
        idle_timeout: f.idle_timeout,
        max_connections: f.max_connections,
        export_root: f.export_root,
        seed: f.seed,
        seed_images: f.seed_images,
    }
    .apply(c);
    if let Some(repos) = f.repositories {
        c.repositories = repos
            .into_iter()
            .map(FileRepo::into_repo)
            .collect::<Result<_, _>>()?;
    }
    if let Some(users) = f.users {
        c.users = with_admin(users);
    }
    if let Some(groups) = f.groups {
        c.groups = groups;
    }
    if let Some(p) = f.permissions {
        c.permissions = p;
    }
    Ok(())
}

/// Adds the default admin unless a user named `admin` is configured.
fn with_admin(mut users: Vec<UserConfig>) -> Vec<UserConfig> {
    if !users.iter().any(|u| u.name == "admin") {
        users.insert(
            0,
            UserConfig {
                name: "admin".into(),
                password: "password".into(),
                admin: true,
                email: None,
                groups: None,
            },
        );
    }
    users
}

/// Action letters must be known (`r n w d m`); anything else is a typo worth stopping for.
fn check_permissions(targets: &[PermissionConfig]) -> Result<(), String> {
    for t in targets {
        for (who, letters) in t.users.iter().chain(t.groups.iter()) {
            if let Some(bad) = letters.chars().find(|c| !"rnwdm".contains(*c)) {
                return Err(format!(
                    "permission target '{}': unknown action '{bad}' for '{who}' (use r, n, w, d, m)",
                    t.name
                ));
            }
        }
        if t.repositories.is_empty() {
            return Err(format!(
                "permission target '{}' names no repositories",
                t.name
            ));
        }
    }
    Ok(())
}

fn check_unique_keys(repos: &[RepoConfig]) -> Result<(), String> {
    for (i, r) in repos.iter().enumerate() {
        if repos[..i]
            .iter()
            .any(|o| o.key.eq_ignore_ascii_case(&r.key))
        {
            return Err(format!("repository key '{}' is configured twice", r.key));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::from_args(["jcr-reference"]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8081");
        assert_eq!(c.normalized_context_path(), "/artifactory");
        assert!(!c.anonymous_access);
        let keys: Vec<_> = c.repositories.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "generic-local",
                "docker-local",
                "helm-local",
                "artifactory-build-info"
            ]
        );
        assert_eq!(c.users[0].name, "admin");
    }

    #[test]
    fn flags_override_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(
            &path,
            "bind: 127.0.0.1:9000\nanonymous_access: true\nrepositories:\n  - key: a\n    class: remote\n    type: docker\n    url: https://x\nusers:\n  - name: bob\n    password: pw\n",
        )
        .unwrap();
        let c = Config::from_args([
            "x",
            "--config",
            path.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
        ])
        .unwrap();
        assert_eq!(c.bind.port(), 0);
        assert!(c.anonymous_access);
        assert_eq!(c.repositories.len(), 1);
        assert_eq!(c.repositories[0].rclass, RepoClass::Remote);
        assert_eq!(c.repositories[0].package_type, PackageType::Docker);
        assert_eq!(c.users.len(), 2);
        let c = Config::from_args([
            "x",
            "--config",
            path.to_str().unwrap(),
            "--repo",
            "b:local:helm",
        ])
        .unwrap();
        assert_eq!(c.repositories[0].key, "b");
    }

    #[test]
    fn the_readme_example_parses_with_groups_users_and_permissions() {
        let readme = include_str!("../../README.md");
        let start = readme.find("# jcr.yaml\n").expect("README has the example");
        let yaml = &readme[start..];
        let yaml = &yaml[..yaml.find("```").expect("end of the example")];
        let f = parse_file(yaml, true).expect("the README example parses");
        let groups = f.groups.expect("groups");
        assert_eq!(groups[0].name, "deployers");
        let users = f.users.expect("users");
        assert_eq!(
            users[0].groups.as_deref(),
            Some(&["readers".to_string(), "deployers".to_string()][..])
        );
        assert!(users[1].admin);
        let p = &f.permissions.expect("permissions")[0];
        assert_eq!(p.repositories, ["libs-local"]);
        assert_eq!(p.includes_pattern, "org/**");
        assert_eq!(p.users["ci"], "rwn");
        assert!(parse_file("users:\n  - {name: a, password: b, admn: true}\n", true).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        std::fs::write(
            &path,
            "permissions:\n  - {name: t, repositories: [x], users: {bob: rwz}}\n",
        )
        .unwrap();
        let err = Config::from_args(["x", "--config", path.to_str().unwrap()]).unwrap_err();
        assert!(err.contains("unknown action 'z'"), "{err}");
    }

    #[test]
    fn toml_file_and_bad_input() {
        let f = parse_file(
            "context_path = \"/\"\n[[repositories]]\nkey = \"x\"\n",
            false,
        )
        .unwrap();
        assert_eq!(f.repositories.unwrap()[0].key, "x");
        assert!(parse_file("nonsense = 1", false).is_err());
        assert!(RepoConfig::parse_flag("a:weird").is_err());
        assert!(RepoConfig::parse_flag("../x").is_err());
        assert!(UserConfig::parse_flag("bob").is_err());
    }
}
