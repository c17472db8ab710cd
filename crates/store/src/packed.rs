//! Rows waiting to be inserted into one table, packed into two allocations:
//! the cells in order, and the bytes of every text cell. A buffer of
//! `Vec<Vec<Val>>` cost about forty allocations per imported voucher, made
//! on the command's thread and freed on the writer's, and glibc's malloc
//! pays for every such free with a lock and a consolidation: a quarter of a
//! 1M-voucher import's CPU (ADR 0005, decision 15).

use crate::write::Val;

/// One cell of a packed row. A NULL keeps its column's type: PostgreSQL
/// is told the type of every bound value, NULL included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cell {
    Int(i64),
    NullInt,
    /// The byte range of the text in [`Packed::text`].
    Text(u32, u32),
    NullText,
}

/// A cell as bound: the text borrowed from the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CellValue<'a> {
    Int(i64),
    NullInt,
    Text(&'a str),
    NullText,
}

/// The rows of one table, in order.
#[derive(Debug)]
pub(crate) struct Packed {
    pub(crate) table: &'static str,
    pub(crate) columns: &'static [&'static str],
    cells: Vec<Cell>,
    text: String,
}

impl Packed {
    pub(crate) fn new(table: &'static str, columns: &'static [&'static str]) -> Packed {
        assert!(!columns.is_empty(), "a table has columns");
        Packed {
            table,
            columns,
            cells: Vec::new(),
            text: String::new(),
        }
    }

    /// An empty buffer for the same table, sized like this one: the next
    /// buffer of an import grows no more than the last did.
    pub(crate) fn fresh(&self) -> Packed {
        Packed {
            table: self.table,
            columns: self.columns,
            cells: Vec::with_capacity(self.cells.capacity()),
            text: String::with_capacity(self.text.capacity()),
        }
    }

    /// Whole rows held.
    pub(crate) fn rows(&self) -> usize {
        self.cells.len() / self.columns.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    pub(crate) fn int(&mut self, v: i64) {
        self.cells.push(Cell::Int(v));
    }

    pub(crate) fn opt_int(&mut self, v: Option<i64>) {
        self.cells.push(v.map_or(Cell::NullInt, Cell::Int));
    }

    pub(crate) fn text(&mut self, t: &str) {
        let start = self.text.len();
        self.text.push_str(t);
        self.cells
            .push(Cell::Text(offset(start), offset(self.text.len())));
    }

    pub(crate) fn opt_text(&mut self, t: Option<&str>) {
        match t {
            Some(t) => self.text(t),
            None => self.cells.push(Cell::NullText),
        }
    }

    pub(crate) fn val(&mut self, v: &Val) {
        match v.cell() {
            CellValue::Int(i) => self.int(i),
            CellValue::NullInt => self.cells.push(Cell::NullInt),
            CellValue::Text(t) => self.text(t),
            CellValue::NullText => self.cells.push(Cell::NullText),
        }
    }

    /// Appends a whole row.
    pub(crate) fn push(&mut self, row: &[Val]) {
        assert_eq!(
            row.len(),
            self.columns.len(),
            "row width for {}",
            self.table
        );
        for v in row {
            self.val(v);
        }
    }

    /// Marks the end of a row pushed cell by cell: it must be whole.
    pub(crate) fn end_row(&self) {
        assert_eq!(
            self.cells.len() % self.columns.len(),
            0,
            "row width for {}",
            self.table
        );
    }

    /// The rows in chunks of at most `rows` rows, each the chunk's cells
    /// in order.
    pub(crate) fn chunks(&self, rows: usize) -> std::slice::Chunks<'_, Cell> {
        self.end_row();
        self.cells.chunks(rows * self.columns.len())
    }

    pub(crate) fn value(&self, cell: Cell) -> CellValue<'_> {
        match cell {
            Cell::Int(i) => CellValue::Int(i),
            Cell::NullInt => CellValue::NullInt,
            Cell::Text(start, end) => CellValue::Text(&self.text[start as usize..end as usize]),
            Cell::NullText => CellValue::NullText,
        }
    }
}

/// A byte offset into a buffer's text. A buffer is written every few
/// hundred rows, so its text stays far below 4 GiB.
fn offset(at: usize) -> u32 {
    u32::try_from(at).expect("a row buffer's text stays below 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::{CellValue, Packed};
    use crate::write::Val;

    const COLUMNS: &[&str] = &["n", "name", "year", "note"];

    fn values(p: &Packed, rows: usize) -> Vec<Vec<CellValue<'_>>> {
        p.chunks(rows)
            .map(|chunk| chunk.iter().map(|c| p.value(*c)).collect())
            .collect()
    }

    /// What goes in comes out, row by row, chunk by chunk, NULLs typed.
    #[test]
    fn rows_come_back_in_chunks_as_pushed() {
        let mut p = Packed::new("t", COLUMNS);
        p.push(&[
            Val::Int(1),
            Val::Text("湘财社指〔2020〕36号".into()),
            Val::OptInt(None),
            Val::OptText(Some(String::new())),
        ]);
        p.int(2);
        p.text("");
        p.opt_int(Some(2020));
        p.opt_text(None);
        p.end_row();
        p.push(&[
            Val::Int(3),
            Val::Text("c".into()),
            Val::OptInt(Some(-1)),
            Val::OptText(Some("d".into())),
        ]);
        assert_eq!(p.rows(), 3);
        use CellValue::{Int, NullInt, NullText, Text};
        let want = [
            vec![Int(1), Text("湘财社指〔2020〕36号"), NullInt, Text("")],
            vec![Int(2), Text(""), Int(2020), NullText],
            vec![Int(3), Text("c"), Int(-1), Text("d")],
        ];
        assert_eq!(values(&p, 2), vec![want[..2].concat(), want[2].clone()]);
        assert_eq!(values(&p, 500), vec![want.concat()]);
        let fresh = p.fresh();
        assert!(fresh.is_empty());
        assert_eq!(fresh.rows(), 0);
    }

    #[test]
    #[should_panic(expected = "row width for t")]
    fn a_row_of_the_wrong_width_is_refused() {
        Packed::new("t", COLUMNS).push(&[Val::Int(1)]);
    }

    #[test]
    #[should_panic(expected = "row width for t")]
    fn a_row_left_unfinished_is_refused() {
        let mut p = Packed::new("t", COLUMNS);
        p.int(1);
        p.end_row();
    }
}
