//! Poisson tail probabilities, for testing whether a hotspot holds more incidents than its
//! area would under a uniform spread over land.

/// ln(k!) by summing logs (exact enough for the counts here; k ≤ a few million).
fn ln_factorial(k: u64) -> f64 {
    // Stirling's series beyond 256 keeps this O(1) for large k.
    if k < 256 {
        (2..=k).map(|i| (i as f64).ln()).sum()
    } else {
        let n = k as f64;
        n * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI * n).ln() + 1.0 / (12.0 * n)
            - 1.0 / (360.0 * n.powi(3))
    }
}

/// P(X ≥ k) for X ~ Poisson(λ).
pub fn poisson_sf(k: u64, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    let ln_pmf = |i: u64| -> f64 { -lambda + i as f64 * lambda.ln() - ln_factorial(i) };
    if k as f64 > lambda {
        // Sum the upper tail from k; terms fall geometrically once i > λ.
        let mut sum = 0.0;
        let mut term = ln_pmf(k).exp();
        let mut i = k;
        while term > 0.0 && term > sum * 1e-17 {
            sum += term;
            i += 1;
            term *= lambda / i as f64;
        }
        sum.min(1.0)
    } else {
        let lower: f64 = (0..k).map(|i| ln_pmf(i).exp()).sum();
        (1.0 - lower).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_exact_small_cases() {
        // P(X ≥ 1) = 1 − e^−λ; P(X ≥ 3; λ = 2) = 1 − e^−2 (1 + 2 + 2).
        assert!((poisson_sf(1, 0.5) - (1.0 - (-0.5f64).exp())).abs() < 1e-15);
        assert!((poisson_sf(3, 2.0) - (1.0 - 5.0 * (-2.0f64).exp())).abs() < 1e-14);
        // Upper-tail branch against the direct sum of pmf terms (rational arithmetic in f64).
        let lam: f64 = 3.0;
        let mut pmf = (-lam).exp();
        let mut cdf = 0.0;
        for i in 0..10u64 {
            cdf += pmf;
            pmf *= lam / (i + 1) as f64;
        }
        assert!((poisson_sf(10, lam) - (1.0 - cdf)).abs() < 1e-12);
        // Far tail, and Stirling region consistency.
        assert!(poisson_sf(200, 10.0) < 1e-150);
        let a = poisson_sf(300, 280.0);
        assert!(a > 0.1 && a < 0.15, "{a}");
        assert_eq!(poisson_sf(0, 5.0), 1.0);
    }
}
