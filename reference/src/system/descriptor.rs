//! `artifactory.config.xml`, the general configuration (`GET/POST /api/system/configuration`, and the
//! file a system export writes): generated from the live state in Artifactory's element order, and
//! read back into one [`Descriptor`] that applies in a single step.
//!
//! What other endpoints model is rendered from them and applied to them: the repositories with all
//! their settings, the custom URL base, the reverse proxy, anonymous access and the lock policy.
//! Every other section (mail server, backups, indexer, proxies, property sets, layouts, gc and
//! cleanup schedules, ...) is kept as it was last posted, normalised, and shown again; a fresh
//! instance shows JCR's defaults for them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::xml::{self, Node};
use crate::auth::model::LockPolicy;
use crate::config::{PackageType, RepoClass, RepoConfig};
use crate::store::State;
use crate::system::reverse_proxy::ReverseProxy;

/// The schema this server writes (Artifactory 7.9x's generation; see FIDELITY).
pub const NAMESPACE: &str = "http://artifactory.jfrog.org/xsd/3.1.32";
const LOCATION: &str = "http://www.jfrog.org/xsd/artifactory-v3_1_32.xsd";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The top-level elements, in the schema's order.
const TOP: &[&str] = &[
    "serverName",
    "offlineMode",
    "helpLinksEnabled",
    "fileUploadMaxSizeMb",
    "revision",
    "dateFormat",
    "addons",
    "mailServer",
    "xrayConfig",
    "bintrayConfig",
    "security",
    "backups",
    "indexer",
    "localRepositories",
    "remoteRepositories",
    "virtualRepositories",
    "distributionRepositories",
    "releaseBundlesRepositories",
    "proxies",
    "reverseProxies",
    "propertySets",
    "urlBase",
    "logo",
    "footer",
    "repoLayouts",
    "remoteReplications",
    "localReplications",
    "gcConfig",
    "cleanupConfig",
    "virtualCacheCleanupConfig",
    "quotaConfig",
    "systemMessageConfig",
    "folderDownloadConfig",
    "trashcanConfig",
    "replicationsConfig",
    "bintrayApplications",
    "sumoLogicConfig",
    "releaseBundlesConfig",
    "signedUrlConfig",
    "downloadRedirectConfig",
    "eulaConfig",
    "subscriptionConfig",
];

/// Sections a document must have (the schema's required ones, and the repositories).
const REQUIRED: &[&str] = &[
    "security",
    "localRepositories",
    "remoteRepositories",
    "virtualRepositories",
];

/// The children of `security`, in the schema's order.
const SECURITY: &[&str] = &[
    "anonAccessEnabled",
    "hideUnauthorizedResources",
    "passwordSettings",
    "ldapSettings",
    "ldapGroupSettings",
    "httpSsoSettings",
    "crowdSettings",
    "samlSettings",
    "oauthSettings",
    "signingKeysSettings",
    "userLockPolicy",
    "sshServerSettings",
    "accessClientSettings",
    "buildGlobalBasicReadAllowed",
    "buildGlobalBasicReadForAnonymous",
];

/// The sections a fresh instance shows (JCR 7's defaults), in our own words.
const DEFAULTS: &str = r#"<config>
<offlineMode>false</offlineMode>
<helpLinksEnabled>true</helpLinksEnabled>
<fileUploadMaxSizeMb>100</fileUploadMaxSizeMb>
<dateFormat>dd-MM-yy HH:mm:ss z</dateFormat>
<addons><showAddonsInfo>true</showAddonsInfo><showAddonsInfoCookie>1700000000000</showAddonsInfoCookie></addons>
<mailServer><enabled>false</enabled><host></host><port>25</port><subjectPrefix>[Artifactory]</subjectPrefix><tls>false</tls><ssl>false</ssl></mailServer>
<security>
<hideUnauthorizedResources>false</hideUnauthorizedResources>
<passwordSettings><encryptionPolicy>supported</encryptionPolicy><expirationPolicy><enabled>false</enabled><passwordMaxAge>60</passwordMaxAge><notifyByEmail>true</notifyByEmail></expirationPolicy><resetPolicy><enabled>true</enabled><maxAttemptsPerAddress>3</maxAttemptsPerAddress><timeToBlockInMinutes>60</timeToBlockInMinutes></resetPolicy></passwordSettings>
<ldapSettings/>
<ldapGroupSettings/>
<buildGlobalBasicReadAllowed>false</buildGlobalBasicReadAllowed>
<buildGlobalBasicReadForAnonymous>false</buildGlobalBasicReadForAnonymous>
</security>
<backups>
<backup><key>backup-daily</key><enabled>false</enabled><cronExp>0 0 2 ? * MON-FRI</cronExp><retentionPeriodHours>0</retentionPeriodHours><createArchive>false</createArchive><excludedRepositories/><sendMailOnError>true</sendMailOnError><excludeNewRepositories>false</excludeNewRepositories><precalculate>false</precalculate></backup>
<backup><key>backup-weekly</key><enabled>false</enabled><cronExp>0 0 2 ? * SAT</cronExp><retentionPeriodHours>336</retentionPeriodHours><createArchive>false</createArchive><excludedRepositories/><sendMailOnError>true</sendMailOnError><excludeNewRepositories>false</excludeNewRepositories><precalculate>false</precalculate></backup>
</backups>
<indexer><enabled>false</enabled><cronExp>0 23 5 * * ?</cronExp></indexer>
<proxies/>
<propertySets/>
<repoLayouts>
<repoLayout><name>simple-default</name><artifactPathPattern>[orgPath]/[module]/[module]-[baseRev].[ext]</artifactPathPattern><distinctiveDescriptorPathPattern>false</distinctiveDescriptorPathPattern><folderIntegrationRevisionRegExp>.*</folderIntegrationRevisionRegExp><fileIntegrationRevisionRegExp>.*</fileIntegrationRevisionRegExp></repoLayout>
<repoLayout><name>build-default</name><artifactPathPattern>[orgPath]/[module](-[fileItegRev]).[ext]</artifactPathPattern><distinctiveDescriptorPathPattern>false</distinctiveDescriptorPathPattern><folderIntegrationRevisionRegExp>.*</folderIntegrationRevisionRegExp><fileIntegrationRevisionRegExp>.*</fileIntegrationRevisionRegExp></repoLayout>
</repoLayouts>
<gcConfig><cronExp>0 0 /4 * * ?</cronExp></gcConfig>
<cleanupConfig><cronExp>0 12 5 * * ?</cronExp></cleanupConfig>
<virtualCacheCleanupConfig><cronExp>0 12 0 * * ?</cronExp></virtualCacheCleanupConfig>
<folderDownloadConfig><enabled>false</enabled><enabledForAnonymous>false</enabledForAnonymous><maxDownloadSizeMb>1024</maxDownloadSizeMb><maxFiles>5000</maxFiles><maxConcurrentRequests>10</maxConcurrentRequests></folderDownloadConfig>
<trashcanConfig><enabled>false</enabled><allowPermDeletes>false</allowPermDeletes><retentionPeriodDays>14</retentionPeriodDays></trashcanConfig>
<eulaConfig><accepted>true</accepted></eulaConfig>
</config>"#;

/// What the general configuration holds beyond what other endpoints model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct General {
    /// Top-level sections kept as last posted, in order (`None`: the defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<Node>>,
    /// The children of `security` other than anonymous access and the lock policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Vec<Node>>,
    /// Anonymous access as the configuration last set it (`None`: the start-up flag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_access: Option<bool>,
    /// Saves of the configuration so far (its `revision`).
    #[serde(default)]
    pub revision: u64,
}

/// A whole configuration as posted, checked against the live state: applying it replaces the
/// repositories (created, changed, removed, reordered), the URL base, the reverse proxy, the lock
/// policy and the kept sections in one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    pub repos: Vec<RepoConfig>,
    pub url_base: String,
    pub lock_policy: LockPolicy,
    pub reverse_proxy: Option<ReverseProxy>,
    pub general: General,
}

fn defaults() -> (Vec<Node>, Vec<Node>) {
    let doc = xml::parse(DEFAULTS.as_bytes()).expect("the default sections parse");
    let mut sections = doc.root.children;
    let security = sections
        .iter()
        .position(|n| n.name == "security")
        .map(|i| sections.remove(i).children)
        .unwrap_or_default();
    (sections, security)
}

fn rank(order: &[&str], name: &str) -> usize {
    order.iter().position(|n| *n == name).unwrap_or(order.len())
}

// ---------------------------------------------------------------------------------------------
// Repositories: Artifactory's XML elements beside the JSON fields they hold.

/// How a repository element holds a JSON field.
enum F {
    /// `<xml>value</xml>` for the JSON field.
    S(&'static str, &'static str),
    /// `<xml><child>a</child><child>b</child></xml>` for a JSON list of strings.
    L(&'static str, &'static str, &'static str),
    /// `<xml><inner>value</inner></xml>` for a scalar JSON field.
    W(&'static str, &'static str, &'static str),
}
use F::{L, S, W};

const BASE: &[F] = &[
    S("key", "key"),
    S("type", "packageType"),
    S("description", "description"),
    S("notes", "notes"),
    S("includesPattern", "includesPattern"),
    S("excludesPattern", "excludesPattern"),
    S("repoLayoutRef", "repoLayoutRef"),
    S("dockerApiVersion", "dockerApiVersion"),
    S("forceNugetAuthentication", "forceNugetAuthentication"),
];

const REAL: &[F] = &[
    S("blackedOut", "blackedOut"),
    S("handleReleases", "handleReleases"),
    S("handleSnapshots", "handleSnapshots"),
    S("maxUniqueSnapshots", "maxUniqueSnapshots"),
    S("maxUniqueTags", "maxUniqueTags"),
    S("blockPushingSchema1", "blockPushingSchema1"),
    S(
        "suppressPomConsistencyChecks",
        "suppressPomConsistencyChecks",
    ),
    L("propertySets", "propertySetRef", "propertySets"),
    S("archiveBrowsingEnabled", "archiveBrowsingEnabled"),
    W("xrayConfig", "enabled", "xrayIndex"),
    W("downloadRedirectConfig", "enabled", "downloadRedirect"),
];

const LOCAL: &[F] = &[
    S("snapshotVersionBehavior", "snapshotVersionBehavior"),
    S("localRepoChecksumPolicyType", "checksumPolicyType"),
    S("calculateYumMetadata", "calculateYumMetadata"),
    S("yumRootDepth", "yumRootDepth"),
    S("debianTrivialLayout", "debianTrivialLayout"),
];

const REMOTE: &[F] = &[
    S("url", "url"),
    S("offline", "offline"),
    S("hardFail", "hardFail"),
    S("storeArtifactsLocally", "storeArtifactsLocally"),
    S("fetchJarsEagerly", "fetchJarsEagerly"),
    S("fetchSourcesEagerly", "fetchSourcesEagerly"),
    S("retrievalCachePeriodSecs", "retrievalCachePeriodSecs"),
    S("assumedOfflinePeriodSecs", "assumedOfflinePeriodSecs"),
    S(
        "missedRetrievalCachePeriodSecs",
        "missedRetrievalCachePeriodSecs",
    ),
    S(
        "remoteRepoChecksumPolicyType",
        "remoteRepoChecksumPolicyType",
    ),
    S(
        "unusedArtifactsCleanupPeriodHours",
        "unusedArtifactsCleanupPeriodHours",
    ),
    S("shareConfiguration", "shareConfiguration"),
    S("synchronizeProperties", "synchronizeProperties"),
    S("listRemoteFolderItems", "listRemoteFolderItems"),
    S("rejectInvalidJars", "rejectInvalidJars"),
    S("blockMismatchingMimeTypes", "blockMismatchingMimeTypes"),
    S(
        "mismatchingMimeTypesOverrideList",
        "mismatchingMimeTypesOverrideList",
    ),
    S("bypassHeadRequests", "bypassHeadRequests"),
    S("username", "username"),
    S("password", "password"),
    S("allowAnyHostAuth", "allowAnyHostAuth"),
    S("socketTimeoutMillis", "socketTimeoutMillis"),
    S("enableCookieManagement", "enableCookieManagement"),
    S("enableTokenAuthentication", "enableTokenAuthentication"),
    S("localAddress", "localAddress"),
    S("queryParams", "queryParams"),
    S("propagateQueryParams", "propagateQueryParams"),
    S("clientTlsCertificate", "clientTlsCertificate"),
];

const VIRTUAL: &[F] = &[
    S(
        "artifactoryRequestsCanRetrieveRemoteArtifacts",
        "artifactoryRequestsCanRetrieveRemoteArtifacts",
    ),
    S(
        "resolveDockerTagsByTimestamp",
        "resolveDockerTagsByTimestamp",
    ),
    L("repositories", "repositoryRef", "repositories"),
    S(
        "pomRepositoryReferencesCleanupPolicy",
        "pomRepositoryReferencesCleanupPolicy",
    ),
    S("defaultDeploymentRepo", "defaultDeploymentRepo"),
    S("forceMavenAuthentication", "forceMavenAuthentication"),
    W(
        "virtualCacheConfig",
        "virtualRetrievalCachePeriodSecs",
        "virtualRetrievalCachePeriodSecs",
    ),
];

fn fields(class: RepoClass) -> impl Iterator<Item = &'static F> {
    let own: &[F] = match class {
        RepoClass::Local => LOCAL,
        RepoClass::Remote => REMOTE,
        RepoClass::Virtual => VIRTUAL,
    };
    let real: &[F] = if class == RepoClass::Virtual {
        &[]
    } else {
        REAL
    };
    BASE.iter().chain(real).chain(own)
}

fn json_name(f: &F) -> &'static str {
    match f {
        S(_, j) | L(_, _, j) | W(_, _, j) => j,
    }
}

/// The section and element names of a class.
fn section(class: RepoClass) -> (&'static str, &'static str) {
    match class {
        RepoClass::Local => ("localRepositories", "localRepository"),
        RepoClass::Remote => ("remoteRepositories", "remoteRepository"),
        RepoClass::Virtual => ("virtualRepositories", "virtualRepository"),
    }
}

/// A scalar as element text (`None`: no element, as JAXB leaves out a null or an empty string).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Any JSON value as an element: objects by key, lists as `<item>` children.
fn value_node(name: &str, v: &Value) -> Option<Node> {
    match v {
        Value::Null => None,
        Value::Object(m) => Some(Node::parent(
            name,
            m.iter().filter_map(|(k, v)| value_node(k, v)).collect(),
        )),
        Value::Array(a) => Some(Node::parent(
            name,
            a.iter().filter_map(|v| value_node("item", v)).collect(),
        )),
        other => scalar_text(other).map(|t| Node::text(name, t)),
    }
}

/// An element read back as JSON where no default says its type.
fn inferred(n: &Node) -> Value {
    if n.children.is_empty() {
        return match n.text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            t => t
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(t.to_string())),
        };
    }
    if n.children.iter().all(|c| c.name == "item") {
        return Value::Array(n.children.iter().map(inferred).collect());
    }
    Value::Object(
        n.children
            .iter()
            .map(|c| (c.name.clone(), inferred(c)))
            .collect(),
    )
}

fn repo_node(c: &RepoConfig) -> Node {
    let json = crate::repos::config_json(c);
    let mut doc = json.as_object().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for f in fields(c.rclass) {
        let Some(v) = doc.shift_remove(json_name(f)) else {
            continue;
        };
        match f {
            S("password", _) => {}
            S(x, _) => out.extend(scalar_text(&v).map(|t| Node::text(x, t))),
            L(x, child, _) => out.push(Node::parent(
                x,
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| scalar_text(m).map(|t| Node::text(child, t)))
                    .collect(),
            )),
            W(x, inner, _) => {
                if let Some(t) = scalar_text(&v) {
                    out.push(Node::parent(x, vec![Node::text(inner, t)]));
                }
            }
        }
    }
    doc.shift_remove("rclass");
    doc.shift_remove("password");
    for (k, v) in &doc {
        out.extend(value_node(k, v));
    }
    Node::parent(section(c.rclass).1, out)
}

/// Reads one repository element into the JSON document the repository API takes.
fn repo_doc(class: RepoClass, n: &Node) -> Result<Map<String, Value>, String> {
    let key = n
        .child_text("key")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| format!("A {} has no key", n.name))?
        .to_string();
    let pt_text = n.child_text("type").unwrap_or("generic");
    let pt = PackageType::parse(pt_text)
        .ok_or_else(|| format!("Repository '{key}': unsupported package type '{pt_text}'"))?;
    let mut seen: Vec<&str> = Vec::new();
    let mut doc = Map::new();
    doc.insert("rclass".into(), Value::from(class.lower()));
    doc.insert("packageType".into(), Value::from(pt.lower()));
    for c in &n.children {
        if seen.contains(&c.name.as_str()) {
            return Err(format!(
                "Repository '{key}': element '{}' appears more than once",
                c.name
            ));
        }
        seen.push(&c.name);
        let f = fields(class).find(|f| match f {
            S(x, _) | L(x, _, _) | W(x, _, _) => *x == c.name,
        });
        let typed = |json: &str, text: &str| -> Result<Value, String> {
            let default = crate::repos::settings::default_of(class, pt, json);
            match default {
                Some(Value::Bool(_)) => match text {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    _ => Err(format!(
                        "Repository '{key}': '{}' must be true or false, not '{text}'",
                        c.name
                    )),
                },
                Some(Value::Number(_)) => text.parse::<u64>().map(Value::from).map_err(|_| {
                    format!(
                        "Repository '{key}': '{}' must be a whole number, not '{text}'",
                        c.name
                    )
                }),
                _ => Ok(Value::String(text.to_string())),
            }
        };
        let leaf = |c: &Node| -> Result<(), String> {
            if c.children.is_empty() {
                Ok(())
            } else {
                Err(format!("Repository '{key}': '{}' holds text only", c.name))
            }
        };
        match f {
            Some(S(_, "packageType")) => {}
            Some(S(_, json)) => {
                leaf(c)?;
                doc.insert((*json).into(), typed(json, &c.text)?);
            }
            Some(L(_, child, json)) => {
                let mut list = Vec::new();
                for m in &c.children {
                    if m.name != *child {
                        return Err(format!(
                            "Repository '{key}': '{}' holds '{child}' elements, not '{}'",
                            c.name, m.name
                        ));
                    }
                    list.push(Value::String(m.text.clone()));
                }
                doc.insert((*json).into(), Value::Array(list));
            }
            Some(W(_, inner, json)) => {
                if let Some(t) = c.child_text(inner) {
                    doc.insert((*json).into(), typed(json, t)?);
                }
            }
            None => {
                doc.insert(c.name.clone(), inferred(c));
            }
        }
    }
    Ok(doc)
}

// ---------------------------------------------------------------------------------------------
// The whole document.

/// The configuration as `GET /api/system/configuration` shows it. `proxy` is the reverse proxy
/// as its own endpoint shows it (when one was saved); `anonymous` is anonymous access as it is.
pub fn render(state: &State, anonymous: bool, proxy: Option<&Value>) -> String {
    let (default_sections, default_security) = defaults();
    let g = &state.general;
    let mut top: Vec<Node> = g.sections.clone().unwrap_or(default_sections);
    top.push(Node::text("revision", g.revision.to_string()));

    let mut security = g.security.clone().unwrap_or(default_security);
    security.push(Node::text("anonAccessEnabled", anonymous.to_string()));
    let lp = &state.security.lock_policy;
    security.push(Node::parent(
        "userLockPolicy",
        vec![
            Node::text("enabled", lp.enabled.to_string()),
            Node::text("loginAttempts", lp.login_attempts.to_string()),
        ],
    ));
    security.sort_by_key(|n| rank(SECURITY, &n.name));
    top.push(Node::parent("security", security));

    for class in [RepoClass::Local, RepoClass::Remote, RepoClass::Virtual] {
        let repos = state
            .repos
            .values()
            .filter(|r| r.config.rclass == class)
            .map(|r| repo_node(&r.config))
            .collect();
        top.push(Node::parent(section(class).0, repos));
    }
    if let Some(p) = proxy {
        top.push(Node::parent("reverseProxies", vec![proxy_node(p)]));
    }
    if !state.url_base.is_empty() {
        top.push(Node::text("urlBase", state.url_base.clone()));
    }
    top.sort_by_key(|n| rank(TOP, &n.name));
    let schema = format!("{NAMESPACE} {LOCATION}");
    xml::write(
        &Node::parent("config", top),
        &[
            ("xmlns:xsi", XSI),
            ("xmlns", NAMESPACE),
            ("xsi:schemaLocation", &schema),
        ],
    )
}

/// The reverse proxy's JSON as its XML element (`reverseProxyRepoConfigs` are
/// `reverseProxyRepoConfig` elements).
fn proxy_node(p: &Value) -> Node {
    let mut children = Vec::new();
    for (k, v) in p.as_object().into_iter().flatten() {
        if k == "reverseProxyRepositories" {
            let list = v["reverseProxyRepoConfigs"].as_array().cloned();
            children.push(Node::parent(
                k,
                list.into_iter()
                    .flatten()
                    .filter_map(|r| value_node("reverseProxyRepoConfig", &r))
                    .collect(),
            ));
        } else {
            children.extend(value_node(k, v));
        }
    }
    Node::parent("reverseProxy", children)
}

fn proxy_doc(n: &Node) -> Value {
    let mut m = Map::new();
    for c in &n.children {
        if c.name == "reverseProxyRepositories" {
            let list: Vec<Value> = c.children.iter().map(inferred).collect();
            m.insert(
                c.name.clone(),
                serde_json::json!({ "reverseProxyRepoConfigs": list }),
            );
        } else {
            m.insert(c.name.clone(), inferred(c));
        }
    }
    Value::Object(m)
}

/// Checks that `children` are known, each once, in the schema's order.
fn check_order(children: &[Node], order: &[&str], within: &str) -> Result<(), String> {
    let mut last = 0;
    for (i, c) in children.iter().enumerate() {
        let r = rank(order, &c.name);
        if r == order.len() {
            return Err(format!("Unknown element '{}' in '{within}'", c.name));
        }
        if i > 0 && r <= last {
            return Err(format!(
                "Element '{}' in '{within}' is out of place (twice, or after an element the schema puts after it)",
                c.name
            ));
        }
        last = r;
    }
    Ok(())
}

fn boolean(n: &Node, within: &str) -> Result<bool, String> {
    match n.text.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        t => Err(format!(
            "'{within}/{}' must be true or false, not '{t}'",
            n.name
        )),
    }
}

/// Reads a posted document and checks it whole against the live state: every repository as the
/// repository API would check it (members exist, no cycles, a class or type unchanged), the URL
/// base, the reverse proxy and the lock policy. An error names the first problem; nothing is
/// applied until all of it is good.
pub fn parse(bytes: &[u8], state: &State) -> Result<Descriptor, String> {
    let doc = xml::parse(bytes)?;
    if doc.root.name != "config" {
        return Err(format!(
            "The root element must be 'config', not '{}'",
            doc.root.name
        ));
    }
    if !doc
        .namespace
        .starts_with("http://artifactory.jfrog.org/xsd/")
    {
        return Err(format!(
            "The configuration must be in Artifactory's namespace ({NAMESPACE}), not '{}'",
            doc.namespace
        ));
    }
    let top = doc.root.children;
    check_order(&top, TOP, "config")?;
    for r in REQUIRED {
        if !top.iter().any(|n| n.name == *r) {
            return Err(format!("The configuration has no '{r}' element"));
        }
    }
    let mut sections = Vec::new();
    let mut security = Vec::new();
    let mut anonymous = false;
    let mut lock_policy = LockPolicy::default();
    let mut url_base = String::new();
    let mut reverse_proxy = None;
    let mut repo_nodes: Vec<(RepoClass, &Node)> = Vec::new();
    for n in &top {
        match n.name.as_str() {
            "revision" => {}
            "security" => {
                check_order(&n.children, SECURITY, "security")?;
                for c in &n.children {
                    match c.name.as_str() {
                        "anonAccessEnabled" => anonymous = boolean(c, "security")?,
                        "userLockPolicy" => {
                            if let Some(e) = c.child("enabled") {
                                lock_policy.enabled = boolean(e, "security/userLockPolicy")?;
                            }
                            if let Some(a) = c.child_text("loginAttempts") {
                                lock_policy.login_attempts = a
                                    .parse::<u32>()
                                    .ok()
                                    .filter(|n| (1..=100).contains(n))
                                    .ok_or_else(|| {
                                        format!("'security/userLockPolicy/loginAttempts' must be a number from 1 to 100, not '{a}'")
                                    })?;
                            }
                        }
                        _ => security.push(c.clone()),
                    }
                }
            }
            "localRepositories" | "remoteRepositories" | "virtualRepositories" => {
                let class = match n.name.as_str() {
                    "localRepositories" => RepoClass::Local,
                    "remoteRepositories" => RepoClass::Remote,
                    _ => RepoClass::Virtual,
                };
                let element = section(class).1;
                for c in &n.children {
                    if c.name != element {
                        return Err(format!(
                            "'{}' holds '{element}' elements, not '{}'",
                            n.name, c.name
                        ));
                    }
                    repo_nodes.push((class, c));
                }
            }
            "reverseProxies" => match n.children.as_slice() {
                [] => {}
                [p] if p.name == "reverseProxy" => {
                    reverse_proxy = Some(ReverseProxy::parse(&proxy_doc(p))?);
                }
                _ => return Err(
                    "'reverseProxies' holds one 'reverseProxy' element (JCR has one web server)"
                        .into(),
                ),
            },
            "urlBase" => {
                url_base = n.text.trim().to_string();
                if !url_base.is_empty() {
                    super::check_url(&url_base)?;
                }
            }
            _ => sections.push(n.clone()),
        }
    }
    let repos = repositories(&repo_nodes, state)?;
    for p in reverse_proxy.iter().flat_map(|p| &p.repos) {
        if !repos
            .iter()
            .any(|c| c.key == p.repo && c.package_type == PackageType::Docker)
        {
            return Err(format!(
                "Repository '{}' is not a Docker repository",
                p.repo
            ));
        }
    }
    Ok(Descriptor {
        repos,
        url_base,
        lock_policy,
        reverse_proxy,
        general: General {
            sections: Some(sections),
            security: Some(security),
            anonymous_access: Some(anonymous),
            revision: state.general.revision,
        },
    })
}

/// Applies a whole configuration document in one step (`POST /api/system/configuration`, a system
/// import), and what the application keeps beside the store (the URL base, anonymous access).
pub(crate) async fn save(
    app: &crate::app::App,
    bytes: &[u8],
    user: &str,
) -> Result<(), crate::store::Refusal<String>> {
    let now = app.config.clock.now_ms();
    let check = |state: &State| {
        Ok(crate::store::Mutation::SetConfiguration {
            descriptor: Box::new(parse(bytes, state)?),
            now,
            user: user.to_string(),
        })
    };
    let after = |state: &State| (state.url_base.clone(), state.general.anonymous_access);
    let (url, anonymous) = app.store.transact(check, after).await?;
    *app.url_base.write().unwrap_or_else(|e| e.into_inner()) = url;
    if let Some(a) = anonymous {
        app.auth.set_anonymous_access(a);
    }
    Ok(())
}

/// The posted repositories as configurations, checked as a set.
fn repositories(nodes: &[(RepoClass, &Node)], state: &State) -> Result<Vec<RepoConfig>, String> {
    let mut docs = Vec::new();
    for (class, n) in nodes {
        let doc = repo_doc(*class, n)?;
        let key = doc["key"].as_str().unwrap_or_default().to_string();
        if docs
            .iter()
            .any(|(k, _): &(String, _)| k.eq_ignore_ascii_case(&key))
        {
            return Err(format!("Repository '{key}' is configured more than once"));
        }
        docs.push((key, doc));
    }
    // What the member checks see: every posted repository, with its members.
    let sketch: Vec<RepoConfig> = docs
        .iter()
        .map(|(key, doc)| {
            let class = RepoClass::parse(doc["rclass"].as_str().unwrap_or("local"))
                .unwrap_or(RepoClass::Local);
            let pt = PackageType::parse(doc["packageType"].as_str().unwrap_or("generic"))
                .unwrap_or(PackageType::Generic);
            let mut c = RepoConfig::new(key, class, pt);
            c.repositories = doc
                .get("repositories")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            c
        })
        .collect();
    let lookup = |k: &str| sketch.iter().find(|c| c.key == k);
    let mut out = Vec::new();
    for (key, doc) in &docs {
        let mut c =
            crate::repos::from_doc(key, doc, &lookup).map_err(|e| e.message().to_string())?;
        // A setting the document spells out at its default is the default.
        let (class, pt) = (c.rclass, c.package_type);
        c.settings
            .retain(|k, v| crate::repos::settings::default_of(class, pt, k).as_ref() != Some(v));
        if let Some(old) = state.repos.get(key) {
            if old.config.rclass != c.rclass {
                return Err(format!(
                    "The repository class (rclass) of '{key}' cannot be changed"
                ));
            }
            if old.config.package_type != c.package_type {
                return Err(format!("The package type of '{key}' cannot be changed"));
            }
            // The document never shows the upstream password: one left out stays as it was.
            if c.password.is_none() && !doc.contains_key("password") {
                c.password = old.config.password.clone();
            }
        }
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Mutation;

    fn state_with(repos: &[RepoConfig]) -> State {
        let mut s = State::default();
        for c in repos {
            s.apply(&Mutation::CreateRepo {
                config: c.clone(),
                now: 1,
                user: "u".into(),
            })
            .unwrap();
        }
        s
    }

    #[test]
    fn a_rendered_configuration_reads_back_to_the_same_state() {
        let mut remote = RepoConfig::new("up", RepoClass::Remote, PackageType::Docker);
        remote.url = Some("https://registry-1.docker.io/".into());
        remote.password = Some("secret".into());
        remote
            .settings
            .insert("retrievalCachePeriodSecs".into(), Value::from(60));
        let mut local = RepoConfig::new("libs", RepoClass::Local, PackageType::Generic);
        local.description = "Libraries & more <b>".into();
        local.settings.insert("xrayIndex".into(), Value::Bool(true));
        local
            .settings
            .insert("future".into(), serde_json::json!({"a": [1, 2]}));
        let mut virt = RepoConfig::new("all", RepoClass::Virtual, PackageType::Generic);
        virt.repositories = vec!["libs".into()];
        virt.default_deployment_repo = Some("libs".into());
        let mut state = state_with(&[local.clone(), remote.clone(), virt.clone()]);
        state.url_base = "https://jcr.example/artifactory".into();
        let text = render(&state, false, None);
        assert!(
            text.contains("<localRepoChecksumPolicyType>client-checksums<"),
            "{text}"
        );
        assert!(
            !text.contains("secret"),
            "the upstream password is never shown"
        );
        let d = parse(text.as_bytes(), &state).unwrap();
        assert_eq!(d.repos, vec![local, remote, virt]);
        assert_eq!(d.url_base, state.url_base);
        let mut next = state.clone();
        next.apply(&Mutation::SetConfiguration {
            descriptor: Box::new(d),
            now: 2,
            user: "u".into(),
        })
        .unwrap();
        assert_eq!(next.general.revision, state.general.revision + 1);
        let norm = |s: String| {
            s.lines()
                .filter(|l| !l.contains("<revision>"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(norm(render(&next, false, None)), norm(text));
    }

    #[test]
    fn documents_that_do_not_fit_the_schema_are_refused() {
        let state = state_with(&[RepoConfig::new(
            "libs",
            RepoClass::Local,
            PackageType::Generic,
        )]);
        let good = render(&state, false, None);
        let cases = [
            (
                good.replace("<offlineMode>false</offlineMode>", "")
                    .replace("<proxies/>", "<proxies/><offlineMode>false</offlineMode>"),
                "out of place",
            ),
            (good.replace("<security>", "<security><bogus/>"), "Unknown element 'bogus'"),
            (good.replace("<remoteRepositories/>", ""), "no 'remoteRepositories'"),
            (good.replace("<type>generic</type>", "<type>docker</type>"), "package type of 'libs'"),
            (good.replace("<handleReleases>true", "<handleReleases>maybe"), "true or false"),
            (good.replace("<virtualRepositories/>", "<virtualRepositories><virtualRepository><key>v</key><repositories><repositoryRef>nope</repositoryRef></repositories></virtualRepository></virtualRepositories>"), "nope"),
            (good.replace(NAMESPACE, "urn:other"), "namespace"),
            (good[..good.find("</security>").unwrap() + 11].to_string(), "ended"),
            (good[..good.len() / 2].to_string(), "Malformed XML"),
        ];
        for (doc, want) in cases {
            let e = parse(doc.as_bytes(), &state).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}
