//! The view grid: the map cut into square cells of the view radius's side. A player sees its
//! own cell and the eight around it (fewer at the edges): everyone within the radius along
//! each axis, no one beyond twice it.

use skirmish_shared::{Rules, SUBUNITS};

/// A room's view cells. Cells are numbered row by row from the map's top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// A cell's side, in subunits.
    side: i32,
    cols: u32,
    rows: u32,
}

impl Grid {
    /// The grid the rules ask for; `None` for a view radius of 0 (every client sees the
    /// whole map). The rules must have passed [`Rules::validate`] (which bounds the cells).
    pub fn new(rules: &Rules) -> Option<Self> {
        if rules.view_radius == 0 {
            return None;
        }
        let side = i32::try_from(rules.view_radius).ok()?.checked_mul(SUBUNITS)?;
        let cells = |units: u32| (units as i64 * i64::from(SUBUNITS) / i64::from(side)) as u32 + 1;
        Some(Self { side, cols: cells(rules.map_width), rows: cells(rules.map_height) })
    }

    /// How many cells there are.
    pub fn len(&self) -> usize {
        self.cols as usize * self.rows as usize
    }

    /// Whether the grid has no cell (never: a map has at least one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cell of a position (subunits; clamped into the map).
    #[inline]
    pub fn cell(&self, x: i32, y: i32) -> u32 {
        let cx = (x.max(0) / self.side).min(self.cols as i32 - 1) as u32;
        let cy = (y.max(0) / self.side).min(self.rows as i32 - 1) as u32;
        cy * self.cols + cx
    }

    /// Whether a player in cell `centre` sees cell `c`.
    #[inline]
    pub fn sees(&self, centre: u32, c: u32) -> bool {
        let (ax, ay) = (centre % self.cols, centre / self.cols);
        let (bx, by) = (c % self.cols, c / self.cols);
        ax.abs_diff(bx) <= 1 && ay.abs_diff(by) <= 1
    }

    /// The cells a player in cell `centre` sees, row by row.
    pub fn view(&self, centre: u32) -> impl Iterator<Item = u32> + use<> {
        let (cx, cy) = (centre % self.cols, centre / self.cols);
        let cols = self.cols;
        let xs = cx.saturating_sub(1)..=(cx + 1).min(self.cols - 1);
        let ys = cy.saturating_sub(1)..=(cy + 1).min(self.rows - 1);
        ys.flat_map(move |y| xs.clone().map(move |x| y * cols + x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(w: u32, h: u32, r: u32) -> Grid {
        let rules = Rules { map_width: w, map_height: h, view_radius: r, ..Rules::default() };
        rules.validate().expect("valid rules");
        Grid::new(&rules).expect("a grid")
    }

    #[test]
    fn no_radius_no_grid() {
        assert_eq!(Grid::new(&Rules::default()), None);
    }

    #[test]
    fn cells_cover_the_map_edges_included() {
        let g = grid(2000, 1000, 100);
        assert_eq!((g.cols, g.rows), (21, 11)); // 0..=2000 units: the edge 2000 is cell 20
        assert_eq!(g.cell(0, 0), 0);
        assert_eq!(g.cell(799, 0), 0);
        assert_eq!(g.cell(800, 0), 1);
        assert_eq!(g.cell(2000 * 8, 1000 * 8), 21 * 11 - 1);
        assert_eq!(g.cell(-5, 1_000_000), 10 * 21); // out of the map: clamped
    }

    #[test]
    fn a_view_is_the_cell_and_its_neighbours_clipped_at_the_edges() {
        let g = grid(500, 500, 100); // 6 × 6
        assert_eq!(g.view(0).collect::<Vec<_>>(), vec![0, 1, 6, 7]);
        assert_eq!(g.view(7).count(), 9);
        assert_eq!(g.view(35).collect::<Vec<_>>(), vec![28, 29, 34, 35]);
        for centre in 0..36 {
            for c in 0..36 {
                assert_eq!(g.sees(centre, c), g.view(centre).any(|v| v == c), "{centre} {c}");
            }
        }
    }

    #[test]
    fn everyone_within_the_radius_is_seen_and_no_one_beyond_twice_it() {
        let g = grid(1000, 1000, 50);
        let side = 50 * 8;
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let (ax, ay) = (rng.i32(0..=8000), rng.i32(0..=8000));
            let (bx, by) = (rng.i32(0..=8000), rng.i32(0..=8000));
            let seen = g.sees(g.cell(ax, ay), g.cell(bx, by));
            let far = (ax - bx).abs().max((ay - by).abs());
            if far <= side {
                assert!(seen, "({ax},{ay}) must see ({bx},{by})");
            }
            if far >= 2 * side {
                assert!(!seen, "({ax},{ay}) must not see ({bx},{by})");
            }
        }
    }
}
