//! Project catalog (code, name, aliases), so files that name a project by its
//! name or an alias can be resolved to a code.

use crate::domain::ProjectCode;
use crate::text::normalise_text;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub code: ProjectCode,
    pub name: String,
    pub aliases: Vec<String>,
    pub func_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectError {
    #[error("unknown project `{text}` (not a code, name or alias in the catalog)")]
    UnknownProject { text: String },
    #[error("project {code} is {expected}, not {given}")]
    NameMismatch {
        code: ProjectCode,
        given: String,
        expected: String,
    },
    #[error("`{alias}` already names project {first}; it cannot also name {second}")]
    AliasConflict {
        alias: String,
        first: ProjectCode,
        second: ProjectCode,
    },
    #[error("line {line}: {message}")]
    BadCatalog { line: usize, message: String },
}

const DEFAULT_CATALOG_CSV: &str = include_str!("../../../fixtures/reference/projects.csv");

#[derive(Clone, Debug, Default)]
pub struct ProjectCatalog {
    projects: BTreeMap<ProjectCode, Project>,
    /// Normalised name or alias → the code that claims it.
    by_text: HashMap<String, ProjectCode>,
}

impl ProjectCatalog {
    pub fn new() -> ProjectCatalog {
        ProjectCatalog::default()
    }

    /// The shipped default catalog (fixtures/reference/projects.csv, embedded).
    pub fn default_catalog() -> ProjectCatalog {
        let mut catalog = ProjectCatalog::new();
        for project in ProjectCatalog::parse_csv(DEFAULT_CATALOG_CSV).expect("embedded catalog") {
            catalog
                .insert(project)
                .expect("embedded catalog is consistent");
        }
        catalog
    }

    /// `code,name,aliases,func_code` with aliases `;`-separated; header
    /// required (columns found by name; aliases and func_code optional);
    /// quoted fields allowed.
    pub fn parse_csv(text: &str) -> Result<Vec<Project>, ProjectError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let bad = |line: usize, message: String| ProjectError::BadCatalog { line, message };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
        let columns = CatalogColumns::find(&headers).map_err(|m| bad(1, m))?;
        let mut projects: Vec<Project> = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() as usize);
                bad(line, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            let project = columns.project(&record).map_err(|m| bad(line, m))?;
            if projects.iter().any(|p| p.code == project.code) {
                return Err(bad(line, format!("project {} listed twice", project.code)));
            }
            projects.push(project);
        }
        Ok(projects)
    }

    /// Add or replace (same code replaces); a name or alias claimed by another
    /// code is AliasConflict, and then nothing changes.
    pub fn insert(&mut self, project: Project) -> Result<(), ProjectError> {
        let texts: Vec<String> = std::iter::once(&project.name)
            .chain(&project.aliases)
            .map(|t| normalise_text(t))
            .collect();
        for (text, original) in texts
            .iter()
            .zip(std::iter::once(&project.name).chain(&project.aliases))
        {
            if let Some(first) = self.by_text.get(text) {
                if *first != project.code {
                    return Err(ProjectError::AliasConflict {
                        alias: original.clone(),
                        first: first.clone(),
                        second: project.code.clone(),
                    });
                }
            }
        }
        self.by_text.retain(|_, code| *code != project.code);
        for text in texts {
            self.by_text.insert(text, project.code.clone());
        }
        self.projects.insert(project.code.clone(), project);
        Ok(())
    }

    pub fn get(&self, code: &ProjectCode) -> Option<&Project> {
        self.projects.get(code)
    }

    /// Resolve a cell text that may be a code, the name or an alias (after
    /// trimming and normalising full-width quotes/brackets). None if nothing
    /// matches.
    pub fn lookup_text(&self, text: &str) -> Option<&Project> {
        let normalised = normalise_text(text);
        if let Ok(code) = ProjectCode::parse(&normalised) {
            let upper = ProjectCode::parse(&normalised.to_ascii_uppercase()).ok();
            let by_code = self
                .projects
                .get(&code)
                .or_else(|| upper.and_then(|u| self.projects.get(&u)));
            if by_code.is_some() {
                return by_code;
            }
        }
        self.by_text
            .get(&normalised)
            .and_then(|code| self.projects.get(code))
    }

    /// Given an optional code and optional name from one row:
    /// - code known: a given name must be the name or an alias of that code
    ///   (NameMismatch);
    /// - code unknown + name given + `allow_new` (indicator files): Ok(None),
    ///   a new project, unless the name already belongs to another project
    ///   (AliasConflict);
    /// - no code: the name must resolve (UnknownProject).
    pub fn resolve(
        &self,
        code: Option<&str>,
        name: Option<&str>,
        allow_new: bool,
    ) -> Result<Option<ProjectCode>, ProjectError> {
        let code = code.map(str::trim).filter(|t| !t.is_empty());
        let name = name.map(str::trim).filter(|t| !t.is_empty());
        let Some(code_text) = code else {
            let text = name.unwrap_or("");
            return self.lookup_text(text).map(|p| Some(p.code.clone())).ok_or(
                ProjectError::UnknownProject {
                    text: text.to_string(),
                },
            );
        };
        let unknown = || ProjectError::UnknownProject {
            text: code_text.to_string(),
        };
        let parsed = ProjectCode::parse(code_text).map_err(|_| unknown())?;
        match (self.projects.get(&parsed), name) {
            (Some(project), Some(given)) => {
                let normalised = normalise_text(given);
                let claimed = self.by_text.get(&normalised) == Some(&project.code);
                if claimed {
                    Ok(Some(parsed))
                } else {
                    Err(ProjectError::NameMismatch {
                        code: parsed,
                        given: given.to_string(),
                        expected: project.name.clone(),
                    })
                }
            }
            (Some(_), None) => Ok(Some(parsed)),
            (None, Some(given)) if allow_new => match self.by_text.get(&normalise_text(given)) {
                Some(first) => Err(ProjectError::AliasConflict {
                    alias: given.to_string(),
                    first: first.clone(),
                    second: parsed,
                }),
                None => Ok(None),
            },
            (None, _) => Err(unknown()),
        }
    }

    /// Every project, ordered by code.
    pub fn iter(&self) -> impl Iterator<Item = &Project> {
        self.projects.values()
    }

    pub fn len(&self) -> usize {
        self.projects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.projects.is_empty()
    }
}

/// Column positions of a catalog CSV, found by header name.
struct CatalogColumns {
    code: usize,
    name: usize,
    aliases: Option<usize>,
    func_code: Option<usize>,
}

impl CatalogColumns {
    fn find(headers: &csv::StringRecord) -> Result<CatalogColumns, String> {
        let position = |names: &[&str]| {
            headers
                .iter()
                .position(|h| names.contains(&normalise_text(h).as_str()))
        };
        Ok(CatalogColumns {
            code: position(&["code", "project_code", "项目编码", "项目代码"])
                .ok_or("missing column code")?,
            name: position(&["name", "project_name", "项目名称"]).ok_or("missing column name")?,
            aliases: position(&["aliases", "别名"]),
            func_code: position(&["func_code", "功能分类", "功能科目", "支出功能分类科目"]),
        })
    }

    fn project(&self, record: &csv::StringRecord) -> Result<Project, String> {
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        let code = ProjectCode::parse(field(Some(self.code))).map_err(|e| e.to_string())?;
        let name = field(Some(self.name));
        if name.is_empty() {
            return Err(format!("project {code}: empty name"));
        }
        let aliases = field(self.aliases)
            .split([';', '；'])
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        let func_code = match field(self.func_code) {
            "" => None,
            text if text.len() == 7 && text.bytes().all(|b| b.is_ascii_digit()) => {
                Some(text.to_string())
            }
            text => {
                return Err(format!(
                    "project {code}: func_code `{text}` is not 7 digits"
                ))
            }
        };
        Ok(Project {
            code,
            name: name.to_string(),
            aliases,
            func_code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pc(text: &str) -> ProjectCode {
        ProjectCode::parse(text).unwrap()
    }

    #[test]
    fn default_catalog_loads_with_quoted_alias() {
        let catalog = ProjectCatalog::default_catalog();
        assert_eq!(catalog.len(), 12);
        let js02 = catalog.get(&pc("JS02")).unwrap();
        assert_eq!(js02.name, "计生三结合帮扶");
        assert_eq!(
            js02.aliases,
            vec!["三结合", "计生\"三结合\"项目", "三结合项目"]
        );
        assert_eq!(js02.func_code.as_deref(), Some("2100799"));
    }

    fn check_lookup(text: &str, expected: Option<&str>) {
        let catalog = ProjectCatalog::default_catalog();
        let got = catalog
            .lookup_text(text)
            .map(|p| p.code.as_str().to_string());
        assert_eq!(got.as_deref(), expected, "{text}");
    }

    #[test]
    fn lookup_by_code_name_alias_with_normalisation() {
        check_lookup("JS01", Some("JS01"));
        check_lookup(" js05 ", Some("JS05"));
        check_lookup("ＪＳ０３", Some("JS03"));
        check_lookup("计生保险", Some("JS01"));
        check_lookup("暖心家园建设", Some("JS05"));
        check_lookup("计生“三结合”项目", Some("JS02"));
        check_lookup("计生\"三结合\"项目", Some("JS02"));
        check_lookup("关怀关爱\"三留守\"", Some("JS11"));
        check_lookup("关怀关爱“三留守”", Some("JS11"));
        check_lookup(" 三 结 合 ", Some("JS02"));
        check_lookup("JS99", None);
        check_lookup("三结合帮扶", None);
        check_lookup("", None);
    }

    fn check_resolve(
        code: Option<&str>,
        name: Option<&str>,
        allow_new: bool,
        expected: Result<Option<&str>, &str>,
    ) {
        let catalog = ProjectCatalog::default_catalog();
        let got = catalog.resolve(code, name, allow_new);
        match (&got, expected) {
            (Ok(c), Ok(want)) => assert_eq!(c.as_ref().map(|c| c.as_str()), want),
            (Err(e), Err(variant)) => {
                assert!(format!("{e:?}").starts_with(variant), "{e:?} vs {variant}")
            }
            _ => panic!("{code:?} {name:?}: got {got:?}, want {expected:?}"),
        }
    }

    #[test]
    fn resolve_rules() {
        check_resolve(Some("JS01"), None, false, Ok(Some("JS01")));
        check_resolve(
            Some("JS01"),
            Some("计生家庭系列保险"),
            false,
            Ok(Some("JS01")),
        );
        check_resolve(Some("JS01"), Some("计生保险"), false, Ok(Some("JS01")));
        check_resolve(None, Some("计生保险"), false, Ok(Some("JS01")));
        check_resolve(None, Some("JS05"), false, Ok(Some("JS05")));
        check_resolve(Some(""), Some("暖心行动"), false, Ok(Some("JS05")));
        check_resolve(Some("JS01"), Some("暖心家园"), false, Err("NameMismatch"));
        check_resolve(None, Some("不存在的项目"), false, Err("UnknownProject"));
        check_resolve(None, None, false, Err("UnknownProject"));
        check_resolve(Some("JS99"), None, false, Err("UnknownProject"));
        check_resolve(Some("JS99"), Some("新项目"), false, Err("UnknownProject"));
        check_resolve(Some("JS99"), Some("新项目"), true, Ok(None));
        check_resolve(Some("JS99"), None, true, Err("UnknownProject"));
        check_resolve(Some("JS99"), Some("计生保险"), true, Err("AliasConflict"));
        check_resolve(Some("JS 01"), None, true, Err("UnknownProject"));
    }

    #[test]
    fn mismatch_message_names_expected() {
        let catalog = ProjectCatalog::default_catalog();
        let err = catalog
            .resolve(Some("JS01"), Some("暖心家园"), false)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "project JS01 is 计生家庭系列保险, not 暖心家园"
        );
    }

    fn project(code: &str, name: &str, aliases: &[&str]) -> Project {
        Project {
            code: pc(code),
            name: name.to_string(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            func_code: None,
        }
    }

    #[test]
    fn insert_replaces_and_rejects_conflicts() {
        let mut catalog = ProjectCatalog::default_catalog();
        catalog.insert(project("JS13", "新项目", &["新"])).unwrap();
        assert_eq!(catalog.lookup_text("新").unwrap().code, pc("JS13"));
        // Same code replaces: the old alias is released.
        catalog.insert(project("JS13", "新项目改", &[])).unwrap();
        assert!(catalog.lookup_text("新").is_none());
        assert_eq!(catalog.lookup_text("新项目改").unwrap().code, pc("JS13"));
        let err = catalog
            .insert(project("JS14", "另一个", &["计生保险"]))
            .unwrap_err();
        assert_eq!(
            err,
            ProjectError::AliasConflict {
                alias: "计生保险".into(),
                first: pc("JS01"),
                second: pc("JS14"),
            }
        );
        assert!(
            catalog.get(&pc("JS14")).is_none(),
            "a conflict changes nothing"
        );
        assert_eq!(catalog.len(), 13);
    }

    fn check_bad_catalog(text: &str, line: usize, fragment: &str) {
        match ProjectCatalog::parse_csv(text) {
            Err(ProjectError::BadCatalog { line: l, message }) => {
                assert_eq!(l, line, "{message}");
                assert!(message.contains(fragment), "{message}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn parse_rejections() {
        let head = "code,name,aliases,func_code\n";
        check_bad_catalog("name,aliases\n", 1, "missing column code");
        check_bad_catalog("code,aliases\n", 1, "missing column name");
        check_bad_catalog(&format!("{head}JS 1,x,,\n"), 2, "JS 1");
        check_bad_catalog(&format!("{head}JS01,,,\n"), 2, "empty name");
        check_bad_catalog(&format!("{head}JS01,x,,21007\n"), 2, "7 digits");
        check_bad_catalog(&format!("{head}JS01,x,,\nJS01,y,,\n"), 3, "twice");
        check_bad_catalog(&format!("{head}JS01,x\n"), 2, "");
    }

    #[test]
    fn parse_chinese_headers_and_full_width_semicolons() {
        let rows = ProjectCatalog::parse_csv("项目编码,项目名称,别名\nA1,甲,乙；丙\n").unwrap();
        assert_eq!(rows, vec![project("A1", "甲", &["乙", "丙"])]);
    }
}
