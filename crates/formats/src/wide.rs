//! Wide indicator tables (SPEC §4.5): the attachment table of an allocation
//! document, one row per region and one column per project.
//!
//! ```text
//! 粤财社〔2021〕12号              ← preamble: doc number, date, unit
//! 2021年3月5日
//! 单位：万元
//! 序号,地区,合计,计生三结合帮扶,计生保险,…
//! ,合计,74.85,51.50,15.60,…       ← total row: sum of all leaf rows
//! 一,广州市,26.45,19.50,…          ← prefecture row: subtotal of the rows below it
//! 1,广州市本级,7.50,5.00,…         ← leaf (the prefecture's own level)
//! 2,荔湾区,11.20,8.00,…            ← leaf (county)
//! 三,佛山市,10.00,7.00,…           ← prefecture with no rows below: itself a leaf
//! ```
//!
//! The table is small, so it is buffered and checked as a whole: every error
//! is collected, and nothing is returned if there is any.

use crate::cells::{
    cell_text, normalise_header, parse_amount_cell, parse_date_text, split_unit_suffix,
    unit_from_preamble,
};
use crate::context::ImportContext;
use crate::error::RowError;
use crate::table::RawRow;
use chrono::NaiveDate;
use fundledger_core::catalog::Project;
use fundledger_core::divisions::{Level, RegionError};
use fundledger_core::domain::{IndicatorLine, SourceRef};
use fundledger_core::{DocNo, Fen, LineKey, ProjectCode, RegionCode, Unit};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::fmt::Display;

/// A parsed wide table: one line per non-empty, non-zero leaf cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WideTable {
    pub lines: Vec<IndicatorLine>,
    /// Projects named in the header as `CODE 名称` / `名称(CODE)` that the
    /// catalog does not know yet.
    pub new_projects: Vec<Project>,
    pub doc_no: DocNo,
    pub doc_date: NaiveDate,
}

const REGION_HEADERS: [&str; 4] = ["地区", "地区名称", "区划名称", "region_name"];
const TOTAL_HEADERS: [&str; 5] = ["合计", "总计", "合计金额", "金额合计", "total"];
const CODE_HEADERS: [&str; 5] = [
    "地区编码",
    "区划代码",
    "区划编码",
    "财政区划代码",
    "region_code",
];
const IGNORED_HEADERS: [&str; 7] = ["", "序号", "编号", "no", "备注", "remark", "说明"];
const DOC_NO_HEADERS: [&str; 4] = ["指标文号", "文号", "文件号", "doc_no"];
const TOTAL_ROW_NAMES: [&str; 3] = ["合计", "总计", "全省合计"];

/// Normalised header texts look like `序号?,地区,合计,<projects…>` and there is
/// no document-number column (which would make it a long-form file).
pub fn looks_wide(header: &[String]) -> bool {
    let bases: Vec<String> = header
        .iter()
        .map(|h| split_unit_suffix(&normalise_header(h)).0.to_string())
        .collect();
    let has = |names: &[&str]| bases.iter().any(|b| names.contains(&b.as_str()));
    let others = bases
        .iter()
        .filter(|b| {
            let b = b.as_str();
            ![
                &REGION_HEADERS[..],
                &TOTAL_HEADERS,
                &CODE_HEADERS,
                &IGNORED_HEADERS,
            ]
            .iter()
            .any(|names| names.contains(&b))
        })
        .count();
    has(&REGION_HEADERS) && has(&TOTAL_HEADERS) && !has(&DOC_NO_HEADERS) && others > 0
}

/// The region and total columns of a wide header: a second header row
/// leaves them blank (they are merged down over both rows).
pub(crate) fn key_columns(header: &[String]) -> Vec<usize> {
    header
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            let base = split_unit_suffix(&normalise_header(h)).0.to_string();
            REGION_HEADERS.contains(&base.as_str()) || TOTAL_HEADERS.contains(&base.as_str())
        })
        .map(|(i, _)| i)
        .collect()
}

/// Parse a wide attachment table already split into preamble, header and rows.
/// Returns every line, or every error found (sorted by line).
pub fn parse_wide(
    preamble: &[(u64, String)],
    header: &RawRow,
    rows: Vec<RawRow>,
    ctx: &ImportContext,
) -> Result<WideTable, Vec<RowError>> {
    let mut errors = Errors {
        file: ctx.options.file_label.clone(),
        list: Vec::new(),
    };
    let doc_no = settle(
        "document number",
        "--doc-no",
        ctx.options.doc_no.clone(),
        find_doc_numbers(preamble),
        &mut errors,
    );
    let doc_date = settle(
        "document date",
        "--doc-date",
        ctx.options.doc_date,
        find_doc_dates(preamble),
        &mut errors,
    );
    let columns = read_header(header, ctx, &mut errors);
    let unit = columns
        .as_ref()
        .and_then(|c| settle_unit(preamble, header.line, c, ctx.options.unit, &mut errors));
    let (Some(columns), Some(unit), Some(doc_date)) = (columns, unit, doc_date) else {
        return Err(errors.sorted());
    };
    let mut walker = Walker {
        ctx,
        columns: &columns,
        unit,
        doc_date,
        errors: &mut errors,
        group: None,
        leaves: Vec::new(),
        totals: Vec::new(),
    };
    for row in &rows {
        walker.row(row);
    }
    walker.close_group();
    walker.check_totals();
    let leaves = std::mem::take(&mut walker.leaves);
    check_duplicate_leaves(&leaves, &mut errors);
    match doc_no {
        Some(doc_no) if errors.list.is_empty() => Ok(WideTable {
            lines: build_lines(
                &leaves,
                &columns,
                &doc_no,
                doc_date,
                &ctx.options.file_label,
            ),
            new_projects: columns.new_projects,
            doc_no,
            doc_date,
        }),
        _ => Err(errors.sorted()),
    }
}

struct Errors {
    file: String,
    list: Vec<RowError>,
}

impl Errors {
    fn at(&mut self, line: u64, column: Option<&str>, message: impl Into<String>) {
        self.list
            .push(RowError::at(&self.file, line, column, message));
    }
    fn sorted(mut self) -> Vec<RowError> {
        self.list.sort_by_key(|e| e.line);
        self.list
    }
}

// ---------------------------------------------------------------- preamble

/// A value found in the preamble: its line, and whether the line holds
/// nothing else (preferred when a title also cites another document).
struct Found<T> {
    line: u64,
    value: T,
    alone: bool,
}

/// Combine what the preamble states with the command-line option: either may
/// supply the value; if both do, they must agree.
fn settle<T: Clone + PartialEq + Display>(
    what: &str,
    flag: &str,
    option: Option<T>,
    found: Vec<Found<T>>,
    errors: &mut Errors,
) -> Option<T> {
    let mut distinct: Vec<&Found<T>> = Vec::new();
    for f in &found {
        if !distinct.iter().any(|d| d.value == f.value) {
            distinct.push(f);
        }
    }
    if distinct.len() > 1 && distinct.iter().filter(|d| d.alone).count() == 1 {
        distinct.retain(|d| d.alone);
    }
    let listed = || {
        distinct
            .iter()
            .map(|d| format!("{} (line {})", d.value, d.line))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (option, distinct.as_slice()) {
        (Some(o), []) => Some(o),
        (Some(o), many) if many.iter().any(|d| d.value == o) => Some(o),
        (Some(o), [one]) => {
            let message = format!("{what} {} conflicts with {flag} {o}", one.value);
            errors.at(one.line, None, message);
            None
        }
        (Some(o), _) => {
            let message = format!("{flag} {o} is none of the preamble's {what}s: {}", listed());
            errors.at(0, None, message);
            None
        }
        (None, []) => {
            errors.at(0, None, format!("no {what} in the preamble; give {flag}"));
            None
        }
        (None, [one]) => Some(one.value.clone()),
        (None, _) => {
            let message = format!(
                "the preamble states several {what}s: {}; give {flag}",
                listed()
            );
            errors.at(0, None, message);
            None
        }
    }
}

fn is_open_bracket(c: char) -> bool {
    matches!(c, '〔' | '[' | '【' | '（' | '(' | '［' | '〖')
}

fn is_close_bracket(c: char) -> bool {
    matches!(c, '〕' | ']' | '】' | '）' | ')' | '］' | '〗')
}

/// Tokens shaped `PREFIX〔YYYY〕N号` (any bracket form) in one line of text.
fn doc_number_tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        let year_ok = chars.len() > i + 6
            && is_open_bracket(c)
            && chars[i + 1..i + 5].iter().all(char::is_ascii_digit)
            && is_close_bracket(chars[i + 5]);
        if !year_ok {
            continue;
        }
        let digits = chars[i + 6..]
            .iter()
            .take_while(|d| d.is_ascii_digit())
            .count();
        let start = chars[..i]
            .iter()
            .rposition(|p| !p.is_alphanumeric())
            .map_or(0, |p| p + 1);
        if digits == 0 || start == i {
            continue;
        }
        let mut end = i + 6 + digits;
        if chars.get(end) == Some(&'号') {
            end += 1;
        }
        let token: String = chars[start..end].iter().collect();
        let token = ["指标文号", "文件号", "文号"]
            .iter()
            .find_map(|label| {
                token
                    .strip_prefix(label)
                    .filter(|rest| !rest.starts_with('〔'))
            })
            .map_or(token.clone(), str::to_string);
        tokens.push(token);
    }
    tokens
}

/// A preamble line's content: the joined cells without empty ones and without
/// a leading `label：`.
fn line_content(text: &str) -> String {
    let joined: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let whole = joined.join(",");
    match whole.split_once(['：', ':']) {
        Some((label, rest)) if label.chars().count() <= 6 => rest.trim().to_string(),
        _ => whole,
    }
}

fn find_doc_numbers(preamble: &[(u64, String)]) -> Vec<Found<DocNo>> {
    let mut found = Vec::new();
    for (line, text) in preamble {
        let content = line_content(text);
        for token in doc_number_tokens(text) {
            if let Ok(value) = DocNo::parse(&token) {
                let alone = content == token;
                found.push(Found {
                    line: *line,
                    value,
                    alone,
                });
            }
        }
    }
    found
}

fn find_doc_dates(preamble: &[(u64, String)]) -> Vec<Found<NaiveDate>> {
    let mut found = Vec::new();
    for (line, text) in preamble {
        let content = line_content(text);
        let pieces = text.split(',').map(line_content);
        let date = parse_date_text(&content)
            .ok()
            .or_else(|| pieces.filter_map(|p| parse_date_text(&p).ok()).next());
        if let Some(value) = date {
            let alone = parse_date_text(&content).is_ok();
            found.push(Found {
                line: *line,
                value,
                alone,
            });
        }
    }
    found
}

/// The unit from every source that states one: preamble lines, header
/// suffixes, `--unit`. They must agree; none at all is an error.
fn settle_unit(
    preamble: &[(u64, String)],
    header_line: u64,
    columns: &Columns,
    option: Option<Unit>,
    errors: &mut Errors,
) -> Option<Unit> {
    let mut sources: Vec<(u64, Option<String>, Unit)> = Vec::new();
    for (line, text) in preamble {
        if let Some(unit) = unit_from_preamble(text) {
            sources.push((*line, None, unit));
        }
    }
    for (header, unit) in &columns.header_units {
        sources.push((header_line, Some(header.clone()), *unit));
    }
    let first = match (option, sources.first()) {
        (Some(unit), _) => unit,
        (None, Some(source)) => source.2,
        (None, None) => {
            let message = "no unit: state 单位：万元 or 单位：元 in the preamble, a unit in the header, or give --unit";
            errors.at(0, None, message);
            return None;
        }
    };
    let mut agree = true;
    for (line, column, unit) in &sources {
        if *unit != first {
            agree = false;
            let against = if option.is_some() {
                "--unit"
            } else {
                "an earlier unit"
            };
            let message = format!(
                "unit {} conflicts with {against} {}",
                unit.name(),
                first.name()
            );
            errors.at(*line, column.as_deref(), message);
        }
    }
    agree.then_some(first)
}

// ------------------------------------------------------------------ header

struct ProjectColumn {
    index: usize,
    header: String,
    code: ProjectCode,
    func_code: Option<String>,
}

struct Columns {
    region: usize,
    total: usize,
    total_header: String,
    code: Option<usize>,
    projects: Vec<ProjectColumn>,
    new_projects: Vec<Project>,
    header_units: Vec<(String, Unit)>,
}

impl Columns {
    /// The amount columns in check order: 合计 first, then the projects.
    fn amount_headers(&self) -> Vec<&str> {
        std::iter::once(self.total_header.as_str())
            .chain(self.projects.iter().map(|p| p.header.as_str()))
            .collect()
    }
    fn amount_indices(&self) -> Vec<usize> {
        std::iter::once(self.total)
            .chain(self.projects.iter().map(|p| p.index))
            .collect()
    }
}

fn read_header(header: &RawRow, ctx: &ImportContext, errors: &mut Errors) -> Option<Columns> {
    let mut region = None;
    let mut total = None;
    let mut code = None;
    let mut projects: Vec<ProjectColumn> = Vec::new();
    let mut new_projects = Vec::new();
    let mut header_units = Vec::new();
    let mut project_headers = 0;
    let line = header.line;
    for (index, cell) in header.cells.iter().enumerate() {
        let written = cell_text(cell);
        let normalised = normalise_header(&written);
        let (base, unit) = split_unit_suffix(&normalised);
        if let Some(unit) = unit {
            header_units.push((written.clone(), unit));
        }
        let slot = if REGION_HEADERS.contains(&base) {
            &mut region
        } else if TOTAL_HEADERS.contains(&base) {
            &mut total
        } else if CODE_HEADERS.contains(&base) {
            &mut code
        } else if IGNORED_HEADERS.contains(&base) {
            continue;
        } else {
            project_headers += 1;
            let added = add_project_column(index, &written, ctx, &mut projects);
            match added {
                Ok(Some(project)) => new_projects.push(project),
                Ok(None) => {}
                Err(message) => errors.at(line, Some(&written), message),
            }
            continue;
        };
        if slot.is_some() {
            errors.at(line, Some(&written), "column appears twice");
        }
        *slot = Some((index, written));
    }
    let mut missing = |what: &str| errors.at(line, None, format!("no {what} column in the header"));
    if region.is_none() {
        missing("地区");
    }
    if total.is_none() {
        missing("合计");
    }
    if project_headers == 0 {
        missing("project");
    }
    let (region, (total, total_header)) = (region?.0, total?);
    if projects.is_empty() {
        return None;
    }
    Some(Columns {
        region,
        total,
        total_header,
        code: code.map(|c| c.0),
        projects,
        new_projects,
        header_units,
    })
}

/// Adds the project column at `index`; the project when the catalog did not
/// know it yet. A project with a column already is an error.
fn add_project_column(
    index: usize,
    written: &str,
    ctx: &ImportContext,
    projects: &mut Vec<ProjectColumn>,
) -> Result<Option<Project>, String> {
    let (project, is_new) = project_column(written, ctx)?;
    if let Some(first) = projects.iter().find(|p| p.code == project.code) {
        return Err(format!(
            "project {} already has the column {}",
            project.code, first.header
        ));
    }
    projects.push(ProjectColumn {
        index,
        header: written.to_string(),
        code: project.code.clone(),
        func_code: project.func_code.clone(),
    });
    Ok(is_new.then_some(project))
}

/// A project column: a catalog name, alias or code; or `CODE 名称` /
/// `名称(CODE)` for a project the catalog does not know yet.
fn project_column(written: &str, ctx: &ImportContext) -> Result<(Project, bool), String> {
    let text = strip_raw_unit_suffix(written);
    if let Some(project) = ctx.projects.lookup_text(text) {
        return Ok((project.clone(), false));
    }
    let unknown = || format!("`{written}` is not a project name, alias or code in the catalog");
    let (code_text, name) = split_code_and_name(text).ok_or_else(unknown)?;
    let resolved = ctx
        .projects
        .resolve(Some(code_text), Some(name), true)
        .map_err(|e| e.to_string())?;
    match resolved {
        Some(code) => {
            let project = ctx.projects.get(&code).ok_or_else(unknown)?;
            Ok((project.clone(), false))
        }
        None => {
            let code = ProjectCode::parse(code_text).map_err(|e| e.to_string())?;
            let project = Project {
                code,
                name: name.to_string(),
                aliases: Vec::new(),
                func_code: None,
            };
            Ok((project, true))
        }
    }
}

/// `计生保险（万元）` → `计生保险`.
fn strip_raw_unit_suffix(written: &str) -> &str {
    let has_unit = split_unit_suffix(&normalise_header(written)).1.is_some();
    match written.rfind(['(', '（']) {
        Some(cut) if has_unit && cut > 0 => written[..cut].trim(),
        _ => written.trim(),
    }
}

/// `JS13 新项目`, `JS13新项目` or `新项目（JS13）`: a code (with a digit) and a name.
fn split_code_and_name(text: &str) -> Option<(&str, &str)> {
    let is_code_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let has_digit = |s: &str| s.bytes().any(|b| b.is_ascii_digit());
    let separators: &[char] = &[' ', '\u{3000}', ':', '：', '-', '、'];
    let lead = text.find(|c: char| !is_code_char(c)).unwrap_or(text.len());
    let (code, rest) = text.split_at(lead);
    let name = rest.trim_start_matches(separators).trim();
    if !code.is_empty() && has_digit(code) && !name.is_empty() {
        return Some((code, name));
    }
    let inner = text.strip_suffix([')', '）'])?;
    let open = inner.rfind(['(', '（'])?;
    let bracket_len = inner[open..].chars().next()?.len_utf8();
    let code = &inner[open + bracket_len..];
    let name = inner[..open].trim();
    let ok = !code.is_empty() && code.chars().all(is_code_char) && has_digit(code);
    (ok && !name.is_empty()).then_some((code, name))
}

// -------------------------------------------------------------------- rows

/// How a region name marks its row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Marker {
    Plain,
    /// `X本级`: X's own level, always a leaf.
    OwnLevel,
    /// `X小计`: a subtotal of the rows below.
    Subtotal,
}

/// Amounts of one row in check order (合计 first); None = the cell did not
/// parse (already reported), so sums through it are not checked.
type Amounts = Vec<Option<Fen>>;

struct Leaf {
    line: u64,
    /// None when the region did not resolve (reported); still counted in sums.
    code: Option<RegionCode>,
    amounts: Amounts,
}

struct Group {
    line: u64,
    code: RegionCode,
    name: String,
    amounts: Amounts,
    /// Indices into `Walker::leaves`.
    children: Vec<usize>,
    /// A row under it did not resolve: it may have been the next prefecture,
    /// so the subtotal is not checked (the error is already reported).
    uncertain: bool,
}

struct Walker<'a> {
    ctx: &'a ImportContext,
    columns: &'a Columns,
    unit: Unit,
    doc_date: NaiveDate,
    errors: &'a mut Errors,
    group: Option<Group>,
    leaves: Vec<Leaf>,
    totals: Vec<(u64, Amounts)>,
}

/// Where a row belongs once its region is known.
enum Place {
    StartGroup,
    ChildOfGroup,
    Standalone,
}

impl Walker<'_> {
    fn row(&mut self, row: &RawRow) {
        let name: String = cell_text(row.cell(self.columns.region))
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let code_text = self.columns.code.map(|i| cell_text(row.cell(i)));
        let indices = self.columns.amount_indices();
        if name.is_empty() && code_text.as_deref().unwrap_or("").is_empty() {
            if indices.iter().any(|&i| !cell_text(row.cell(i)).is_empty()) {
                let message = "a row with amounts but no region";
                self.errors.at(row.line, None, message);
            }
            return;
        }
        let amounts = self.amounts(row);
        self.check_row_total(row.line, &amounts);
        if TOTAL_ROW_NAMES.contains(&name.as_str()) {
            self.totals.push((row.line, amounts));
            return;
        }
        let marker = if name.ends_with("本级") {
            Marker::OwnLevel
        } else if name.ends_with("小计") {
            Marker::Subtotal
        } else {
            Marker::Plain
        };
        let resolved = self
            .resolve(&name, code_text.as_deref(), marker)
            .and_then(|code| Ok((code, self.place(&name, code, marker)?)));
        match resolved {
            Ok((code, Place::StartGroup)) => {
                self.close_group();
                self.group = Some(Group {
                    line: row.line,
                    code,
                    name,
                    amounts,
                    children: Vec::new(),
                    uncertain: false,
                });
            }
            Ok((code, place)) => {
                if matches!(place, Place::Standalone) {
                    self.close_group();
                }
                self.push_leaf(row.line, Some(code), amounts);
            }
            Err(message) => {
                let column = self.region_column(code_text.is_some());
                self.errors.at(row.line, Some(&column), message);
                if let Some(group) = &mut self.group {
                    group.uncertain = true;
                }
                self.push_leaf(row.line, None, amounts);
            }
        }
    }

    fn region_column(&self, by_code: bool) -> String {
        let index = match (by_code, self.columns.code) {
            (true, Some(i)) => i,
            _ => self.columns.region,
        };
        self.header_text(index)
    }

    fn header_text(&self, index: usize) -> String {
        if index == self.columns.total {
            return self.columns.total_header.clone();
        }
        let project = self.columns.projects.iter().find(|p| p.index == index);
        match (project, index == self.columns.region) {
            (Some(p), _) => p.header.clone(),
            (None, true) => "地区".to_string(),
            (None, false) => "地区编码".to_string(),
        }
    }

    /// A leaf in the open group (if any) or on its own.
    fn push_leaf(&mut self, line: u64, code: Option<RegionCode>, amounts: Amounts) {
        let index = self.leaves.len();
        self.leaves.push(Leaf {
            line,
            code,
            amounts,
        });
        if let Some(group) = &mut self.group {
            group.children.push(index);
        }
    }

    fn amounts(&mut self, row: &RawRow) -> Amounts {
        let headers = self.columns.amount_headers();
        let mut amounts = Vec::with_capacity(headers.len());
        for (index, header) in self.columns.amount_indices().into_iter().zip(headers) {
            let parsed = parse_amount_cell(row.cell(index), self.unit);
            let amount = match parsed {
                Ok(amount) if amount.is_some_and(Fen::is_negative) => {
                    let message = "negative amount: a wide table only allocates; a reduction is a long-form row with adjusts_doc_no";
                    self.errors.at(row.line, Some(header), message);
                    None
                }
                Ok(amount) => Some(amount.unwrap_or(Fen::ZERO)),
                Err(message) => {
                    self.errors.at(row.line, Some(header), message);
                    None
                }
            };
            amounts.push(amount);
        }
        amounts
    }

    /// Every row's 合计 cell equals the sum of its project cells.
    fn check_row_total(&mut self, line: u64, amounts: &Amounts) {
        let Some(stated) = amounts[0] else { return };
        let Some(computed) = self.sum(line, amounts[1..].iter().copied()) else {
            return;
        };
        if stated != computed {
            let message = format!(
                "合计 is {} but the project cells sum to {} ({})",
                show(stated, self.unit),
                show(computed, self.unit),
                self.unit.name()
            );
            let header = self.columns.total_header.clone();
            self.errors.at(line, Some(&header), message);
        }
    }

    /// Sum of known amounts; None if one is unknown or the sum overflows (reported).
    fn sum(&mut self, line: u64, items: impl Iterator<Item = Option<Fen>>) -> Option<Fen> {
        let mut total = Fen::ZERO;
        for item in items {
            match total.checked_add(item?) {
                Ok(next) => total = next,
                Err(e) => {
                    self.errors.at(line, None, e.to_string());
                    return None;
                }
            }
        }
        Some(total)
    }

    fn resolve(
        &self,
        name: &str,
        code_text: Option<&str>,
        marker: Marker,
    ) -> Result<RegionCode, String> {
        match code_text.filter(|t| !t.is_empty()) {
            Some(text) => self.resolve_code(name, text, marker),
            None => self.resolve_name(name),
        }
    }

    /// With a 地区编码 column: the code must be valid at the doc date, and the
    /// name (less 本级/小计) must be its name.
    fn resolve_code(&self, name: &str, text: &str, marker: Marker) -> Result<RegionCode, String> {
        let code = RegionCode::parse(text).map_err(|e| e.to_string())?;
        let base = match marker {
            Marker::Plain => name,
            _ => &name[..name.len() - "本级".len()],
        };
        let generic = ["", "市", "县", "区", "省"].contains(&base);
        let checked_name = (!generic).then_some(base);
        let divisions = &self.ctx.divisions;
        divisions
            .check(code, checked_name, self.doc_date)
            .map(|d| d.code)
            .map_err(|e| e.to_string())
    }

    /// By name: first among the open group's children, then nationally
    /// (narrowed by --province).
    fn resolve_name(&self, name: &str) -> Result<RegionCode, String> {
        let divisions = &self.ctx.divisions;
        let province = self.ctx.options.province;
        if let Some(group) = &self.group {
            match divisions.resolve_name(name, Some(group.code), province, self.doc_date) {
                Ok(code) => return Ok(code),
                Err(RegionError::UnknownName { .. }) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        divisions
            .resolve_name(name, None, province, self.doc_date)
            .map_err(|e| match (e, &self.group) {
                (RegionError::UnknownName { name }, Some(g)) => format!(
                    "unknown region {name}: not under {} {} and no division of that name on {}",
                    g.code, g.name, self.doc_date
                ),
                (RegionError::UnknownName { name }, None) => {
                    format!(
                        "unknown region {name}: no division of that name on {}",
                        self.doc_date
                    )
                }
                (e @ RegionError::AmbiguousName { .. }, _) if province.is_none() => {
                    format!("{e}; give --province")
                }
                (e, _) => e.to_string(),
            })
    }

    fn place(&self, name: &str, code: RegionCode, marker: Marker) -> Result<Place, String> {
        let division = self
            .ctx
            .divisions
            .lookup(code, self.doc_date)
            .ok_or_else(|| format!("region code {code} is not valid on {}", self.doc_date))?;
        let group = self.group.as_ref().map(|g| g.code);
        let in_group = |c: RegionCode| group.is_some_and(|g| c == g || division.parent == Some(g));
        match (marker, division.level) {
            (Marker::Subtotal, Level::Prefecture) => Ok(Place::StartGroup),
            (Marker::Subtotal, _) => Err(format!("{name}: a 小计 row must be a prefecture's")),
            (Marker::OwnLevel, _) if in_group(code) => Ok(Place::ChildOfGroup),
            (Marker::OwnLevel, _) => Ok(Place::Standalone),
            (Marker::Plain, Level::Prefecture) if group == Some(code) => Err(format!(
                "{name} repeats the prefecture row above; write {name}本级 for its own level"
            )),
            (Marker::Plain, Level::Prefecture) => Ok(Place::StartGroup),
            (Marker::Plain, Level::Province) => Err(format!(
                "{name} is a province: a wide table's total is its 合计 row"
            )),
            (Marker::Plain, _) if in_group(code) => Ok(Place::ChildOfGroup),
            (Marker::Plain, _) => match (&self.group, division.parent) {
                (Some(g), Some(parent)) if parent.is_prefecture_level() => Err(format!(
                    "{name} ({code}) belongs to {parent}, not to {} {} above it",
                    g.code, g.name
                )),
                _ => Ok(Place::Standalone),
            },
        }
    }

    /// A prefecture row with rows below it is their subtotal; with none it
    /// is itself a leaf (its own level).
    fn close_group(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        if group.children.is_empty() {
            self.leaves.push(Leaf {
                line: group.line,
                code: Some(group.code),
                amounts: group.amounts,
            });
            return;
        }
        if group.uncertain {
            return;
        }
        let children: Vec<usize> = group.children.clone();
        let what = format!("{} states", group.name);
        self.check_sums(group.line, &group.amounts, &children, &what, "its rows");
    }

    /// Every 合计 row equals the sum of all leaf rows.
    fn check_totals(&mut self) {
        let all: Vec<usize> = (0..self.leaves.len()).collect();
        for (line, amounts) in std::mem::take(&mut self.totals) {
            self.check_sums(line, &amounts, &all, "合计 row states", "the leaf rows");
        }
    }

    fn check_sums(
        &mut self,
        line: u64,
        stated: &Amounts,
        children: &[usize],
        what: &str,
        whose: &str,
    ) {
        let headers: Vec<String> = self
            .columns
            .amount_headers()
            .into_iter()
            .map(str::to_string)
            .collect();
        for (k, header) in headers.iter().enumerate() {
            let items: Vec<Option<Fen>> = children
                .iter()
                .map(|&i| self.leaves[i].amounts[k])
                .collect();
            let (Some(stated), Some(computed)) = (stated[k], self.sum(line, items.into_iter()))
            else {
                continue;
            };
            if stated != computed {
                let message = format!(
                    "{what} {} but {whose} sum to {} ({})",
                    show(stated, self.unit),
                    show(computed, self.unit),
                    self.unit.name()
                );
                self.errors.at(line, Some(header), message);
            }
        }
    }
}

fn check_duplicate_leaves(leaves: &[Leaf], errors: &mut Errors) {
    let mut first_line: HashMap<RegionCode, u64> = HashMap::new();
    for leaf in leaves {
        let Some(code) = leaf.code else { continue };
        if let Some(first) = first_line.get(&code) {
            errors.at(
                leaf.line,
                None,
                format!("region {code} is already listed on line {first}"),
            );
        } else {
            first_line.insert(code, leaf.line);
        }
    }
}

fn build_lines(
    leaves: &[Leaf],
    columns: &Columns,
    doc_no: &DocNo,
    doc_date: NaiveDate,
    file: &str,
) -> Vec<IndicatorLine> {
    let mut lines = Vec::new();
    for leaf in leaves {
        let code = leaf.code.expect("leaves resolved when there are no errors");
        for (k, project) in columns.projects.iter().enumerate() {
            let amount = leaf.amounts[k + 1].expect("amounts parsed when there are no errors");
            if amount.is_zero() {
                continue;
            }
            lines.push(IndicatorLine {
                key: LineKey {
                    doc_no: doc_no.clone(),
                    region: code,
                    project: project.code.clone(),
                },
                fiscal_year: doc_no.year(),
                doc_date,
                amount,
                func_code: project.func_code.clone(),
                remark: None,
                source: SourceRef {
                    file: file.to_string(),
                    line: leaf.line,
                },
            });
        }
    }
    lines
}

/// An amount in the table's unit, as a person would read it: at least two
/// decimals, more only if needed (`38.40`, `0.000123`).
fn show(amount: Fen, unit: Unit) -> String {
    let places = match unit {
        Unit::Yuan => 2,
        Unit::Wan => 6,
    };
    let mut value = Decimal::new(amount.as_i64(), places).normalize();
    if value.scale() < 2 {
        value.rescale(2);
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_amounts_in_their_unit() {
        let cases = [
            (Fen::new(38_400_000), Unit::Wan, "38.40"),
            (Fen::new(123), Unit::Wan, "0.000123"),
            (Fen::new(100_000_000), Unit::Wan, "100.00"),
            (Fen::new(12_345), Unit::Yuan, "123.45"),
            (Fen::new(0), Unit::Yuan, "0.00"),
        ];
        for (fen, unit, want) in cases {
            assert_eq!(show(fen, unit), want);
        }
    }

    #[test]
    fn finds_doc_number_tokens() {
        let cases: [(&str, &[&str]); 7] = [
            ("粤财社〔2021〕12号", &["粤财社〔2021〕12号"]),
            ("文号：粤财社[2021]12号", &["粤财社[2021]12号"]),
            ("文号粤财社（2021）12号", &["粤财社（2021）12号"]),
            ("的通知（湘财社指〔2021〕5号）", &["湘财社指〔2021〕5号"]),
            ("2021年计划生育协会（第二批）", &[]),
            ("〔2021〕12号", &[]),
            ("粤财社〔2021〕号", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(doc_number_tokens(text), want, "{text}");
        }
    }

    #[test]
    fn splits_code_and_name() {
        let cases = [
            ("JS13 新项目", Some(("JS13", "新项目"))),
            ("JS13新项目", Some(("JS13", "新项目"))),
            ("JS13：新项目", Some(("JS13", "新项目"))),
            ("新项目（JS13）", Some(("JS13", "新项目"))),
            ("新项目(JS13)", Some(("JS13", "新项目"))),
            ("HIV关怀", None),
            ("新项目", None),
            ("JS13", None),
        ];
        for (text, want) in cases {
            assert_eq!(split_code_and_name(text), want, "{text}");
        }
    }

    #[test]
    fn recognises_wide_headers() {
        let texts = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: [(&[&str], bool); 5] = [
            (&["序号", "地区", "合计", "计生保险"], true),
            (&["地区", "合计（万元）", "JS01", "地区编码"], true),
            (&["指标文号", "地区", "合计", "计生保险"], false),
            (&["地区编码", "地区", "项目编码", "金额（元）"], false),
            (&["序号", "地区", "合计"], false),
        ];
        for (header, want) in cases {
            assert_eq!(looks_wide(&texts(header)), want, "{header:?}");
        }
    }
}
