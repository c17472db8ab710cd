//! The reference tables the generators draw from, embedded at build time so
//! the fixtures are a function of the checked-in reference data alone.

use fundledger_core::{ProjectCode, RegionCode};

pub const HUNAN_DIVISIONS_2020_CSV: &str =
    include_str!("../../../fixtures/reference/hunan_divisions_2020.csv");
pub const PROJECTS_CSV: &str = include_str!("../../../fixtures/reference/projects.csv");

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct County {
    pub code: RegionCode,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefecture {
    pub code: RegionCode,
    pub name: String,
    pub counties: Vec<County>,
}

/// Hunan's 14 prefectures with their 122 counties, in code order.
pub fn hunan_prefectures_2020() -> Vec<Prefecture> {
    let mut reader = csv::Reader::from_reader(HUNAN_DIVISIONS_2020_CSV.as_bytes());
    let mut prefectures: Vec<Prefecture> = Vec::new();
    for record in reader.records() {
        let record = record.expect("embedded division table is valid CSV");
        let code = RegionCode::parse(&record[0]).expect("embedded division code is valid");
        let name = record[1].to_string();
        match &record[3] {
            "province" => {}
            "prefecture" => prefectures.push(Prefecture {
                code,
                name,
                counties: Vec::new(),
            }),
            "county" => {
                let parent = RegionCode::parse(&record[2]).expect("county has a parent code");
                let prefecture = prefectures
                    .iter_mut()
                    .find(|p| p.code == parent)
                    .expect("county listed after its prefecture");
                prefecture.counties.push(County { code, name });
            }
            other => panic!("unknown level {other} in embedded division table"),
        }
    }
    prefectures.sort_by_key(|p| p.code);
    for prefecture in &mut prefectures {
        prefecture.counties.sort_by_key(|c| c.code);
    }
    prefectures
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub code: ProjectCode,
    pub name: String,
    pub aliases: Vec<String>,
}

impl Project {
    /// The catalog name followed by every alias: the spellings a bureau uses.
    pub fn spellings(&self) -> Vec<&str> {
        std::iter::once(self.name.as_str())
            .chain(self.aliases.iter().map(String::as_str))
            .collect()
    }
}

/// The default project catalog (JS01–JS12), in code order.
pub fn catalog() -> Vec<Project> {
    let mut reader = csv::Reader::from_reader(PROJECTS_CSV.as_bytes());
    let mut projects: Vec<Project> = reader
        .records()
        .map(|record| {
            let record = record.expect("embedded catalog is valid CSV");
            Project {
                code: ProjectCode::parse(&record[0]).expect("embedded project code is valid"),
                name: record[1].to_string(),
                aliases: record[2]
                    .split(';')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect(),
            }
        })
        .collect();
    projects.sort_by(|a, b| a.code.cmp(&b.code));
    projects
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunan_has_14_prefectures_and_122_counties() {
        let prefectures = hunan_prefectures_2020();
        assert_eq!(prefectures.len(), 14);
        let counties: usize = prefectures.iter().map(|p| p.counties.len()).sum();
        assert_eq!(counties, 122);
        assert_eq!(prefectures[0].name, "长沙市");
    }

    #[test]
    fn catalog_has_js01_to_js12() {
        let projects = catalog();
        let codes: Vec<&str> = projects.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes.len(), 12);
        assert_eq!(codes[0], "JS01");
        assert_eq!(codes[11], "JS12");
        assert!(projects[1].spellings().contains(&"三结合"));
    }
}
