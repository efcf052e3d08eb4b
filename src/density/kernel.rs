//! Kernels normalised to integrate to 1 over the plane (units: 1/m²).

use std::f64::consts::PI;
use std::str::FromStr;

/// A 2-D radial kernel with bandwidth `h` (metres). Compact kernels are zero beyond `h`; the
/// Gaussian takes `h` as its standard deviation and is truncated at [`GAUSSIAN_CUTOFF`]·h,
/// which leaves out exp(−cutoff²/2) ≈ 3.7e−6 of its mass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Quartic (biweight), as ArcGIS: 3/(πh²)·(1 − d²/h²)².
    Quartic,
    /// Epanechnikov: 2/(πh²)·(1 − d²/h²).
    Epanechnikov,
    /// Triangular (cone): 3/(πh²)·(1 − d/h).
    Triangular,
    /// Uniform (disc): 1/(πh²).
    Uniform,
    /// Gaussian with σ = h: exp(−d²/2h²)/(2πh²).
    Gaussian,
}

/// Gaussian truncation radius in standard deviations.
pub const GAUSSIAN_CUTOFF: f64 = 5.0;

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 5] = [
        Kernel::Quartic,
        Kernel::Epanechnikov,
        Kernel::Triangular,
        Kernel::Uniform,
        Kernel::Gaussian,
    ];

    /// Name used on the command line and in metadata.
    pub fn slug(self) -> &'static str {
        match self {
            Kernel::Quartic => "quartic",
            Kernel::Epanechnikov => "epanechnikov",
            Kernel::Triangular => "triangular",
            Kernel::Uniform => "uniform",
            Kernel::Gaussian => "gaussian",
        }
    }

    /// Radius beyond which the kernel is taken as zero, metres.
    pub fn support_m(self, h_m: f64) -> f64 {
        match self {
            Kernel::Gaussian => GAUSSIAN_CUTOFF * h_m,
            _ => h_m,
        }
    }

    /// Unnormalised shape at squared distance `d2` (1 at the centre, 0 beyond the support):
    /// QGIS's "Raw" output sums this.
    #[inline]
    pub fn shape(self, d2: f64, h_m: f64) -> f64 {
        let h2 = h_m * h_m;
        match self {
            Kernel::Gaussian => {
                if d2 > (GAUSSIAN_CUTOFF * GAUSSIAN_CUTOFF) * h2 {
                    0.0
                } else {
                    (-d2 / (2.0 * h2)).exp()
                }
            }
            _ if d2 >= h2 => 0.0,
            Kernel::Quartic => {
                let u = 1.0 - d2 / h2;
                u * u
            }
            Kernel::Epanechnikov => 1.0 - d2 / h2,
            Kernel::Triangular => 1.0 - d2.sqrt() / h_m,
            Kernel::Uniform => 1.0,
        }
    }

    /// Normalising constant: `shape × norm` integrates to 1 over the plane (1/m²).
    pub fn norm(self, h_m: f64) -> f64 {
        let h2 = h_m * h_m;
        match self {
            Kernel::Quartic | Kernel::Triangular => 3.0 / (PI * h2),
            Kernel::Epanechnikov => 2.0 / (PI * h2),
            Kernel::Uniform => 1.0 / (PI * h2),
            Kernel::Gaussian => 1.0 / (2.0 * PI * h2),
        }
    }
}

impl FromStr for Kernel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "quartic" | "biweight" => Ok(Kernel::Quartic),
            "epanechnikov" => Ok(Kernel::Epanechnikov),
            "triangular" => Ok(Kernel::Triangular),
            "uniform" => Ok(Kernel::Uniform),
            "gaussian" => Ok(Kernel::Gaussian),
            other => Err(format!(
                "unknown kernel '{other}' (quartic, epanechnikov, triangular, uniform, gaussian)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kernel integrates to 1: a fine polar midpoint sum, independent of the grid code.
    #[test]
    fn kernels_integrate_to_one() {
        for k in Kernel::ALL {
            let h = 300.0;
            let r_max = k.support_m(h);
            let steps = 200_000;
            let dr = r_max / steps as f64;
            let mut total = 0.0;
            for i in 0..steps {
                let r = (i as f64 + 0.5) * dr;
                total += k.shape(r * r, h) * k.norm(h) * 2.0 * PI * r * dr;
            }
            let tol = if k == Kernel::Gaussian { 1e-5 } else { 1e-6 };
            assert!((total - 1.0).abs() < tol, "{}: {total}", k.slug());
        }
    }

    #[test]
    fn quartic_matches_the_arcgis_formula() {
        let h: f64 = 500.0;
        let d: f64 = 200.0;
        let want = 3.0 / (PI * h * h) * (1.0 - (d * d) / (h * h)).powi(2);
        let got = Kernel::Quartic.shape(d * d, h) * Kernel::Quartic.norm(h);
        assert!((got - want).abs() < 1e-18);
        assert_eq!(Kernel::Quartic.shape(h * h, h), 0.0);
    }
}
