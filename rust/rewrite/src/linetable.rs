//! CPython's location table (`co_linetable`, Python 3.11 and later; the format
//! is CPython's `Objects/locations.md`): decoding, mapping every position
//! through a [`PositionMap`], and encoding it back exactly as CPython 3.11's
//! assembler would have for those positions (same entry forms, one entry per
//! instruction), so the restored code object equals the one compiled from the
//! Python rewriter's AST. Python 3.12 merges runs of instructions with one
//! location, which this does not reproduce: the worker uses it on 3.11 only.

use crate::PositionMap;

/// An instruction run's location; -1 stands for "none", as in CPython.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: i32,
    pub end_line: i32,
    pub column: i32,
    pub end_column: i32,
}

const NONE: Location = Location {
    line: -1,
    end_line: -1,
    column: -1,
    end_column: -1,
};

// CPython 3.11's opcodes for attribute loads (`dis.opmap`).
const LOAD_ATTR: u8 = 106;
const LOAD_METHOD: u8 = 160;
const NOP: u8 = 9;

/// A malformed table.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed location table, or one the Python rewriter's compile would not give")]
pub struct Malformed;

struct Reader<'a> {
    bytes: &'a [u8],
    index: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, Malformed> {
        let byte = *self.bytes.get(self.index).ok_or(Malformed)?;
        self.index += 1;
        Ok(byte)
    }

    fn varint(&mut self) -> Result<i64, Malformed> {
        let mut value = 0i64;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            value |= i64::from(byte & 63) << shift;
            shift += 6;
            if byte & 64 == 0 {
                return Ok(value);
            }
            if shift > 42 {
                return Err(Malformed);
            }
        }
    }

    fn svarint(&mut self) -> Result<i64, Malformed> {
        let raw = self.varint()?;
        Ok(if raw & 1 == 1 { -(raw >> 1) } else { raw >> 1 })
    }
}

fn narrow(value: i64) -> Result<i32, Malformed> {
    i32::try_from(value).map_err(|_| Malformed)
}

/// The entries of a table: (code units, location).
pub fn decode(table: &[u8], first_line: i32) -> Result<Vec<(u32, Location)>, Malformed> {
    let mut reader = Reader {
        bytes: table,
        index: 0,
    };
    let mut line = i64::from(first_line);
    let mut entries = Vec::new();
    while reader.index < table.len() {
        let first = reader.byte()?;
        if first & 0x80 == 0 {
            return Err(Malformed);
        }
        let code = (first >> 3) & 15;
        let units = u32::from(first & 7) + 1;
        let location = match code {
            15 => NONE,
            13 => {
                line += reader.svarint()?;
                let line = narrow(line)?;
                Location {
                    line,
                    end_line: line,
                    column: -1,
                    end_column: -1,
                }
            }
            14 => {
                line += reader.svarint()?;
                let end_line = line + reader.varint()?;
                let column = reader.varint()? - 1;
                let end_column = reader.varint()? - 1;
                Location {
                    line: narrow(line)?,
                    end_line: narrow(end_line)?,
                    column: narrow(column)?,
                    end_column: narrow(end_column)?,
                }
            }
            10..=12 => {
                line += i64::from(code - 10);
                let column = i32::from(reader.byte()?);
                let end_column = i32::from(reader.byte()?);
                let line = narrow(line)?;
                Location {
                    line,
                    end_line: line,
                    column,
                    end_column,
                }
            }
            _ => {
                let second = reader.byte()?;
                let column = i32::from(code) * 8 + i32::from((second >> 4) & 7);
                let line = narrow(line)?;
                Location {
                    line,
                    end_line: line,
                    column,
                    end_column: column + i32::from(second & 15),
                }
            }
        };
        entries.push((units, location));
    }
    Ok(entries)
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 64 {
        out.push(64 | (value & 63) as u8);
        value >>= 6;
    }
    out.push(value as u8);
}

fn write_svarint(out: &mut Vec<u8>, value: i64) {
    let raw = if value < 0 {
        (value.unsigned_abs() << 1) | 1
    } else {
        (value as u64) << 1
    };
    write_varint(out, raw);
}

/// Encodes entries as CPython 3.11's assembler does (`write_location_info_entry`,
/// one entry per instruction, split at 8 code units: the decoded entries keep
/// those boundaries).
pub fn encode(entries: &[(u32, Location)], first_line: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 2);
    let mut line = first_line;
    for &(units, location) in entries {
        write_entry(&mut out, &mut line, units.clamp(1, 8), location);
    }
    out
}

fn write_entry(out: &mut Vec<u8>, line: &mut i32, units: u32, location: Location) {
    let length = (units - 1) as u8;
    if location.line < 0 {
        out.push(0x80 | (15 << 3) | length);
        return;
    }
    let delta = location.line - *line;
    let Location {
        column, end_column, ..
    } = location;
    if column < 0 || end_column < 0 {
        if location.end_line == location.line || location.end_line == -1 {
            out.push(0x80 | (13 << 3) | length);
            write_svarint(out, i64::from(delta));
            *line = location.line;
            return;
        }
    } else if location.end_line == location.line {
        if delta == 0 && column < 80 && end_column - column < 16 && end_column >= column {
            out.push(0x80 | (((column / 8) as u8) << 3) | length);
            out.push((((column % 8) as u8) << 4) | (end_column - column) as u8);
            return;
        }
        if (0..3).contains(&delta) && column < 128 && end_column < 128 {
            out.push(0x80 | ((10 + delta as u8) << 3) | length);
            out.push(column as u8);
            out.push(end_column as u8);
            *line = location.line;
            return;
        }
    }
    out.push(0x80 | (14 << 3) | length);
    write_svarint(out, i64::from(delta));
    write_varint(out, (location.end_line - location.line).max(0) as u64);
    write_varint(out, (column + 1).max(0) as u64);
    write_varint(out, (end_column + 1).max(0) as u64);
    *line = location.line;
}

impl PositionMap {
    /// A location in the rewritten source, mapped to the original's.
    /// `attribute_load`: the location is an attribute load's (`LOAD_ATTR`,
    /// `LOAD_METHOD`), the only instructions CPython moves to the attribute
    /// name's line.
    pub fn map_location(&self, location: Location, attribute_load: bool) -> Location {
        if location.line < 0 {
            return location;
        }
        if !attribute_load {
        } else if let Some(location) = self.override_for(
            (location.line, location.column),
            (location.end_line, location.end_column),
        ) {
            return location;
        }
        if location.column < 0 || location.end_column < 0 {
            let line = self.map_line(location.line).unwrap_or(location.line);
            let end_line = if location.end_line < 0 {
                -1
            } else if location.end_line == location.line {
                line
            } else {
                self.map_line(location.end_line)
                    .unwrap_or(location.end_line)
            };
            return Location {
                line,
                end_line,
                ..location
            };
        }
        let start = self.map_start((location.line, location.column));
        // An empty span (a comprehension's RESUME at column 0) stays empty:
        // its end is not the end of whatever precedes it.
        let end = if (location.line, location.column) == (location.end_line, location.end_column) {
            start
        } else {
            self.map_end((location.end_line, location.end_column))
        };
        match (start, end) {
            (Some((line, column)), Some((end_line, end_column))) => Location {
                line,
                end_line,
                column,
                end_column,
            },
            _ => location,
        }
    }

    /// `(table, first line)` of a code object compiled from the rewritten
    /// source, as they are for the original's positions. `module`: the
    /// module's own code, whose first line is 1 whatever the source.
    /// `code`: the code object's bytecode (`co_code`), whose instructions
    /// the table's entries follow.
    pub fn restore(
        &self,
        table: &[u8],
        first_line: i32,
        module: bool,
        code: &[u8],
    ) -> Result<(Vec<u8>, i32), Malformed> {
        let new_first = if module {
            first_line
        } else {
            self.map_line(first_line).unwrap_or(first_line)
        };
        let mut entries = decode(table, first_line)?;
        let mut unit = 0usize;
        let mut nops = Vec::new();
        for (index, entry) in entries.iter_mut().enumerate() {
            let opcode = code.get(unit * 2).copied();
            let attribute_load = matches!(opcode, Some(LOAD_ATTR | LOAD_METHOD));
            entry.1 = self.map_location(entry.1, attribute_load);
            if opcode == Some(NOP) {
                nops.push(index);
            }
            unit += entry.0 as usize;
        }
        // CPython drops a NOP on the line of the instruction before or after
        // it; lines apart in the rewritten source, a NOP may have survived
        // that the Python rewriter's compile dropped (`assert 1 or x`).
        for index in nops {
            let line = entries[index].1.line;
            let neighbour =
                |other: Option<&(u32, Location)>| other.is_some_and(|e| e.1.line == line);
            if line < 0
                || neighbour(index.checked_sub(1).and_then(|i| entries.get(i)))
                || neighbour(entries.get(index + 1))
            {
                return Err(Malformed);
            }
        }
        Ok((encode(&entries, new_first), new_first))
    }
}

/// The name a rewritten-source name stands for: `_dbtest_r_assert` →
/// `@dbtest_assert`, `_dbtest_r_<n>` → `@dbtest_<n>`; None for any other name.
pub fn restored_name(name: &str) -> Option<String> {
    let rest = name.strip_prefix(crate::PREFIX)?;
    if rest == "assert" {
        return Some("@dbtest_assert".into());
    }
    if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("@dbtest_{rest}"));
    }
    None
}
