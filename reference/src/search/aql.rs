//! The AQL parser: query text → [`Query`]. Grammar as behaviour §9.2:
//! `<domain>.find(<criteria>?)[.include(...)][.sort({"$asc"|"$desc":[...]})][.offset(N)]`
//! `[.transitive()][.limit(N)][.distinct(true|false)]`, elements in that order, each at most once.
//! Criteria are JSON-like objects (entries joined by `,` are ANDed) with `$and`/`$or` at any depth,
//! comparison objects (`{"$gt":1}`), `@key` property criteria and dotted cross-domain fields.
//!
//! Errors carry Artifactory's message: `Failed to parse query: <query>, it looks like there is syntax
//! error near the following sub-query: <remainder>`. The evaluator (and the endpoint) come next; this
//! module never panics on any input (a property test feeds it random and mutated queries).

/// Primary domains a query may start with.
pub const DOMAINS: [&str; 14] = [
    "items",
    "archive.entries",
    "archives",
    "properties",
    "stats",
    "artifacts",
    "dependencies",
    "modules",
    "module.properties",
    "build.properties",
    "build.promotions",
    "builds",
    "releases",
    "release_artifacts",
];

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// A number as written (integers and decimals).
    Num(String),
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
}

/// A comparator (keywords are case-insensitive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `$eq` (and the bare `"field":value` form).
    Eq,
    /// `$ne`.
    Ne,
    /// `$gt`.
    Gt,
    /// `$gte`.
    Gte,
    /// `$lt`.
    Lt,
    /// `$lte`.
    Lte,
    /// `$match` (`*`, `?` wildcards).
    Match,
    /// `$nmatch`.
    NMatch,
    /// `$last` (relative time: newer than now minus the period).
    Last,
    /// `$before` (relative time: older than now minus the period).
    Before,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s.to_ascii_lowercase().as_str() {
            "$eq" => Op::Eq,
            "$ne" => Op::Ne,
            "$gt" => Op::Gt,
            "$gte" => Op::Gte,
            "$lt" => Op::Lt,
            "$lte" => Op::Lte,
            "$match" => Op::Match,
            "$nmatch" => Op::NMatch,
            "$last" => Op::Last,
            "$before" => Op::Before,
            _ => return None,
        })
    }
}

/// One criterion.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    /// `field op value` (fields keep their spelling: `name`, `stat.downloads`, `@license`, `@*`).
    Cmp {
        /// Field signature.
        field: String,
        /// Comparator.
        op: Op,
        /// Value.
        value: Value,
    },
    /// `$and`: every group holds.
    And(Vec<Vec<Term>>),
    /// `$or`: some group holds.
    Or(Vec<Vec<Term>>),
    /// `$msp`: the property criteria inside match the same property row.
    Msp(Vec<Vec<Term>>),
}

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// `$asc`.
    Asc,
    /// `$desc`.
    Desc,
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// Primary domain.
    pub domain: String,
    /// Criteria of `find` (ANDed).
    pub criteria: Vec<Term>,
    /// `include(...)` fields.
    pub include: Option<Vec<String>>,
    /// `sort(...)`.
    pub sort: Option<(Dir, Vec<String>)>,
    /// `offset(N)`.
    pub offset: Option<u64>,
    /// `limit(N)`.
    pub limit: Option<u64>,
    /// `distinct(b)`.
    pub distinct: Option<bool>,
    /// `transitive()`.
    pub transitive: bool,
}

/// A parse failure with Artifactory's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

struct P<'a> {
    src: &'a str,
    pos: usize,
    /// Nesting of criteria objects (bounded: a deep query must not exhaust the stack).
    depth: usize,
}

/// Deepest nesting of criteria objects accepted.
pub const MAX_DEPTH: usize = 32;

/// Parses a query.
pub fn parse(query: &str) -> Result<Query, ParseError> {
    let mut p = P {
        src: query,
        pos: 0,
        depth: 0,
    };
    p.query().map_err(|at| {
        let at = at.min(query.len());
        // Report from a character boundary.
        let mut at = at;
        while !query.is_char_boundary(at) {
            at -= 1;
        }
        ParseError(format!(
            "Failed to parse query: {query}, it looks like there is syntax error near the following sub-query: {}",
            &query[at..]
        ))
    })
}

type R<T> = Result<T, usize>;

impl<'a> P<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn ws(&mut self) {
        let skipped = self.rest().len() - self.rest().trim_start().len();
        self.pos += skipped;
    }

    fn eat(&mut self, s: &str) -> bool {
        self.ws();
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str) -> R<()> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    fn query(&mut self) -> R<Query> {
        self.ws();
        let start = self.pos;
        let word: String = self
            .rest()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            .collect();
        // The domain is what precedes ".find(".
        let Some(domain) = word.strip_suffix(".find") else {
            return Err(start);
        };
        if !DOMAINS.contains(&domain) {
            return Err(start);
        }
        self.pos += word.len();
        self.expect("(")?;
        let criteria = if self.eat(")") {
            Vec::new()
        } else {
            let mut all = Vec::new();
            // Top-level objects separated by commas are ANDed.
            loop {
                all.extend(self.object()?);
                if self.eat(",") {
                    continue;
                }
                self.expect(")")?;
                break;
            }
            all
        };
        let mut q = Query {
            domain: domain.to_string(),
            criteria,
            include: None,
            sort: None,
            offset: None,
            limit: None,
            distinct: None,
            transitive: false,
        };
        let mut rank = 0;
        loop {
            self.ws();
            if self.rest().is_empty() {
                break;
            }
            let at = self.pos;
            self.expect(".")?;
            let name: String = self
                .rest()
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let this = match name.as_str() {
                "include" => 1,
                "sort" => 2,
                "offset" => 3,
                "transitive" => 4,
                "limit" => 5,
                "distinct" => 6,
                _ => return Err(at),
            };
            if this <= rank {
                return Err(at);
            }
            rank = this;
            self.pos += name.len();
            self.expect("(")?;
            match this {
                1 => {
                    let mut fields = Vec::new();
                    if !self.eat(")") {
                        loop {
                            fields.push(self.string()?);
                            if self.eat(",") {
                                continue;
                            }
                            self.expect(")")?;
                            break;
                        }
                    }
                    q.include = Some(fields);
                }
                2 => {
                    self.expect("{")?;
                    let key_at = self.pos;
                    let dir = match self.string()?.to_ascii_lowercase().as_str() {
                        "$asc" => Dir::Asc,
                        "$desc" => Dir::Desc,
                        _ => return Err(key_at),
                    };
                    self.expect(":")?;
                    self.expect("[")?;
                    let mut fields = Vec::new();
                    loop {
                        fields.push(self.string()?);
                        if self.eat(",") {
                            continue;
                        }
                        self.expect("]")?;
                        break;
                    }
                    self.expect("}")?;
                    self.expect(")")?;
                    q.sort = Some((dir, fields));
                }
                3 => {
                    q.offset = Some(self.integer()?);
                    self.expect(")")?;
                }
                4 => {
                    self.expect(")")?;
                    q.transitive = true;
                }
                5 => {
                    q.limit = Some(self.integer()?);
                    self.expect(")")?;
                }
                _ => {
                    q.distinct = Some(if self.eat("true") {
                        true
                    } else if self.eat("false") {
                        false
                    } else {
                        return Err(self.pos);
                    });
                    self.expect(")")?;
                }
            }
        }
        Ok(q)
    }

    fn integer(&mut self) -> R<u64> {
        self.ws();
        let digits: String = self
            .rest()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let n = digits.parse::<u64>().map_err(|_| self.pos)?;
        self.pos += digits.len();
        Ok(n)
    }

    /// A double-quoted string with JSON escapes.
    fn string(&mut self) -> R<String> {
        self.ws();
        let start = self.pos;
        if !self.rest().starts_with('"') {
            return Err(start);
        }
        let mut out = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, 'u')) => {
                        let hex: String = (0..4)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        let c = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or(start)?;
                        out.push(c);
                    }
                    Some((_, other)) => out.push(other),
                    None => return Err(start),
                },
                c => out.push(c),
            }
        }
        Err(start)
    }

    fn value(&mut self) -> R<Value> {
        self.ws();
        if self.rest().starts_with('"') {
            return self.string().map(Value::Str);
        }
        for (word, v) in [
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
        ] {
            if self.eat(word) {
                return Ok(v);
            }
        }
        let num: String = self
            .rest()
            .chars()
            .enumerate()
            .take_while(|(i, c)| c.is_ascii_digit() || *c == '.' || (*i == 0 && *c == '-'))
            .map(|(_, c)| c)
            .collect();
        if num.is_empty() || num == "-" || num.parse::<f64>().is_err() {
            return Err(self.pos);
        }
        self.pos += num.len();
        Ok(Value::Num(num))
    }

    /// `{ entry, entry, ... }` → the ANDed terms.
    fn object(&mut self) -> R<Vec<Term>> {
        if self.depth >= MAX_DEPTH {
            return Err(self.pos);
        }
        self.depth += 1;
        let out = self.object_inner();
        self.depth -= 1;
        out
    }

    fn object_inner(&mut self) -> R<Vec<Term>> {
        self.expect("{")?;
        let mut terms = Vec::new();
        if self.eat("}") {
            return Ok(terms);
        }
        loop {
            let key_at = self.pos;
            let key = self.string()?;
            self.expect(":")?;
            match key.to_ascii_lowercase().as_str() {
                "$and" | "$or" | "$msp" => {
                    let groups = self.groups()?;
                    terms.push(match key.to_ascii_lowercase().as_str() {
                        "$and" => Term::And(groups),
                        // Braces do not group in Artifactory's grammar: every entry of an object
                        // in an `$or` is one of its alternatives (`{"$or":[{"repo":"a","repo":"b"}]}`
                        // is either repository); an inner `$and` keeps its entries together.
                        "$or" => Term::Or(groups.into_iter().flatten().map(|t| vec![t]).collect()),
                        _ => Term::Msp(groups),
                    });
                }
                k if k.starts_with('$') => return Err(key_at),
                _ => {
                    self.ws();
                    if self.rest().starts_with('{') {
                        // {"$op": value, ...}: several comparisons on one field are ANDed.
                        self.expect("{")?;
                        loop {
                            let op_at = self.pos;
                            let op = Op::parse(&self.string()?).ok_or(op_at)?;
                            self.expect(":")?;
                            let value = self.value()?;
                            terms.push(Term::Cmp {
                                field: key.clone(),
                                op,
                                value,
                            });
                            if self.eat(",") {
                                continue;
                            }
                            self.expect("}")?;
                            break;
                        }
                    } else {
                        let value = self.value()?;
                        terms.push(Term::Cmp {
                            field: key,
                            op: Op::Eq,
                            value,
                        });
                    }
                }
            }
            if self.eat(",") {
                continue;
            }
            self.expect("}")?;
            return Ok(terms);
        }
    }

    /// `[ {...}, {...} ]` or a single object → groups of ANDed terms.
    fn groups(&mut self) -> R<Vec<Vec<Term>>> {
        self.ws();
        if self.rest().starts_with('{') {
            return Ok(vec![self.object()?]);
        }
        self.expect("[")?;
        let mut out = Vec::new();
        if self.eat("]") {
            return Ok(out);
        }
        loop {
            out.push(self.object()?);
            if self.eat(",") {
                continue;
            }
            self.expect("]")?;
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_query() {
        let q = parse(
            r#"items.find({"repo":"libs","$or":[{"name":{"$match":"*.jar"}},{"@license":{"$eq":"MIT"}}],"size":{"$gt":10,"$lte":20}})
               .include("name","repo","path","@license").sort({"$desc":["size","name"]}).offset(5).limit(10)"#,
        )
        .unwrap();
        assert_eq!(q.domain, "items");
        assert_eq!(q.criteria.len(), 4);
        assert_eq!(
            q.criteria[0],
            Term::Cmp {
                field: "repo".into(),
                op: Op::Eq,
                value: Value::Str("libs".into())
            }
        );
        let Term::Or(groups) = &q.criteria[1] else {
            panic!("{:?}", q.criteria[1])
        };
        assert_eq!(groups.len(), 2);
        assert_eq!(
            q.criteria[3],
            Term::Cmp {
                field: "size".into(),
                op: Op::Lte,
                value: Value::Num("20".into())
            }
        );
        assert_eq!(q.include.as_ref().unwrap().len(), 4);
        assert_eq!(
            q.sort,
            Some((Dir::Desc, vec!["size".into(), "name".into()]))
        );
        assert_eq!((q.offset, q.limit), (Some(5), Some(10)));
    }

    #[test]
    fn domains_relative_time_null_and_the_cli_order() {
        let q = parse(r#"builds.find()"#).unwrap();
        assert!(q.criteria.is_empty());
        let q = parse(r#"archive.entries.find({"name":{"$match":"*.class"}})"#).unwrap();
        assert_eq!(q.domain, "archive.entries");
        let q = parse(r#"items.find({"created":{"$LAST":"3d"},"stat.downloads":null}).offset(0).transitive().limit(1).distinct(false)"#).unwrap();
        assert_eq!(
            q.criteria[0],
            Term::Cmp {
                field: "created".into(),
                op: Op::Last,
                value: Value::Str("3d".into())
            }
        );
        assert_eq!(
            q.criteria[1],
            Term::Cmp {
                field: "stat.downloads".into(),
                op: Op::Eq,
                value: Value::Null
            }
        );
        assert!(q.transitive && q.distinct == Some(false));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let q = format!(
            "items.find({}{})",
            r#"{"$and":"#.repeat(200_000),
            "}".repeat(200_000)
        );
        assert!(parse(&q).is_err());
        let ok = format!(
            "items.find({}{}{})",
            r#"{"$and":"#.repeat(10),
            r#"{"a":1}"#,
            "}".repeat(10)
        );
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn errors_name_the_remainder() {
        let e = parse(r#"items.find({"repo":"x"}).limit(1).sort({"$asc":["name"]})"#).unwrap_err();
        assert_eq!(
            e.0,
            r#"Failed to parse query: items.find({"repo":"x"}).limit(1).sort({"$asc":["name"]}), it looks like there is syntax error near the following sub-query: .sort({"$asc":["name"]})"#
        );
        for bad in [
            "",
            "items",
            "items.find(",
            "nothing.find()",
            r#"items.find({"repo":})"#,
            r#"items.find({"repo":{"$like":"x"}})"#,
            r#"items.find({"$xor":[]})"#,
            r#"items.find().limit(-1)"#,
            r#"items.find().limit(1).limit(2)"#,
            r#"items.find({"name":"unterminated})"#,
            "items.find()x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    use proptest::prelude::*;

    const AQL_SEEDS: [&str; 4] = [
        r#"items.find({"repo":"libs","$or":[{"name":{"$match":"*.jar"}},{"@license":"MIT"}]}).include("name","@license").sort({"$desc":["size"]}).offset(5).limit(10)"#,
        r#"builds.find({"name":{"$eq":"b"},"created":{"$last":"3d"}}).limit(1)"#,
        r#"archive.entries.find({"name":{"$nmatch":"*.class"},"archive.item.repo":null})"#,
        r#"items.find({"$and":[{"size":{"$gt":1,"$lte":20}},{"$msp":[{"@a":"1"},{"@b":{"$ne":"2"}}]}]}).transitive().distinct(true)"#,
    ];

    /// The AQL parser never panics, on random text or on valid queries with characters inserted,
    /// removed or replaced; what it accepts is a query, what it refuses names the remainder.
    #[test]
    fn the_aql_parser_never_panics() {
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            ProptestConfig {
                cases: 2000,
                ..ProptestConfig::default()
            },
            proptest::test_runner::TestRng::deterministic_rng(
                proptest::test_runner::RngAlgorithm::ChaCha,
            ),
        );
        let mutated = (
            0..AQL_SEEDS.len(),
            prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, "\\PC"), 1..6),
        )
            .prop_map(|(seed, edits)| {
                let mut chars: Vec<char> = AQL_SEEDS[seed].chars().collect();
                for (at, kind, text) in edits {
                    let i = at.index(chars.len() + 1);
                    let c = text.chars().next().unwrap_or('x');
                    match kind {
                        0 => chars.insert(i, c),
                        1 if i < chars.len() => {
                            chars.remove(i);
                        }
                        _ if i < chars.len() => chars[i] = c,
                        _ => {}
                    }
                }
                chars.into_iter().collect::<String>()
            });
        let strategy = prop_oneof!["\\PC{0,200}", mutated];
        runner
            .run(&strategy, |q| {
                match parse(&q) {
                    Ok(parsed) => prop_assert!(DOMAINS.contains(&parsed.domain.as_str())),
                    Err(e) => prop_assert!(
                        e.0.starts_with(&format!("Failed to parse query: {q}, it looks like there is syntax error near the following sub-query: ")),
                        "{}",
                        e.0
                    ),
                }
                Ok(())
            })
            .unwrap();
        for q in AQL_SEEDS {
            assert!(parse(q).is_ok(), "{q}");
        }
    }
}
