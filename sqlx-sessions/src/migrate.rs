//! The DDL of a store's table, to run or to hand to another migration tool.

/// The statements that create (`up`) and drop (`down`) a store's table and indexes.
/// Both are idempotent (`IF NOT EXISTS` / `IF EXISTS`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Migration {
    /// Statements creating the table and its indexes.
    pub up: Vec<String>,
    /// Statements dropping them.
    pub down: Vec<String>,
}

impl Migration {
    /// The `up` statements as one SQL script. The cache's triggers on SQLite and MySQL have
    /// `BEGIN ... END` bodies holding `;`: run each element of `up` as one statement, or,
    /// in a client that splits scripts at `;` (the `mysql` command line), set a
    /// `DELIMITER` around them.
    pub fn up_sql(&self) -> String {
        script(&self.up)
    }

    /// The `down` statements as one SQL script.
    pub fn down_sql(&self) -> String {
        script(&self.down)
    }
}

fn script(statements: &[String]) -> String {
    statements
        .iter()
        .map(|s| format!("{s};\n"))
        .collect::<Vec<_>>()
        .join("\n")
}
