//! Dense row-major matrices: the in-memory form of every dataset file.

use anyhow::{ensure, Result};

/// A dense row-major matrix. Base and query vectors are `Matrix<f32>`,
/// ground-truth neighbour ids are `Matrix<i64>` and distances `Matrix<f32>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    rows: usize,
    cols: usize,
    data: Vec<T>,
}

impl<T> Matrix<T> {
    /// Wraps `data` as a `rows × cols` matrix; fails if the lengths disagree.
    pub fn new(rows: usize, cols: usize, data: Vec<T>) -> Result<Self> {
        ensure!(
            rows.checked_mul(cols) == Some(data.len()),
            "matrix of {rows} × {cols} needs {} values, got {}",
            rows.saturating_mul(cols),
            data.len()
        );
        Ok(Self { rows, cols, data })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn row(&self, index: usize) -> &[T] {
        &self.data[index * self.cols..(index + 1) * self.cols]
    }

    pub fn iter_rows(&self) -> impl ExactSizeIterator<Item = &[T]> + '_ {
        // `chunks_exact(0)` panics, and a zero-width matrix still has rows.
        (0..self.rows).map(move |i| self.row(i))
    }

    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// Keeps only the first `rows` rows (no-op when the matrix is smaller).
    pub fn truncate_rows(&mut self, rows: usize) {
        if rows < self.rows {
            self.rows = rows;
            self.data.truncate(rows * self.cols);
        }
    }
}

impl<T: Clone> Matrix<T> {
    /// The first `cols` columns of every row, e.g. the top-k of a top-100 list.
    pub fn first_cols(&self, cols: usize) -> Result<Self> {
        ensure!(
            cols <= self.cols,
            "asked for {cols} columns of a matrix with {}",
            self.cols
        );
        let data = self
            .iter_rows()
            .flat_map(|row| row[..cols].iter().cloned())
            .collect();
        Self::new(self.rows, cols, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_length() {
        assert!(Matrix::new(2, 3, vec![0.0f32; 5]).is_err());
    }

    #[test]
    fn rows_truncate_and_first_cols() {
        let mut m = Matrix::new(3, 2, vec![1, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(m.row(1), &[3, 4]);
        assert_eq!(m.first_cols(1).unwrap().as_slice(), &[1, 3, 5]);
        m.truncate_rows(2);
        assert_eq!(m.rows(), 2);
        assert_eq!(m.as_slice(), &[1, 2, 3, 4]);
        assert!(m.first_cols(3).is_err());
    }
}
