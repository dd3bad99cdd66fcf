"""Student's t: known closed forms and table values."""

import math

import pytest

from studies.analysis.student_t import t_cdf, t_quantile


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.9995])
def test_one_degree_of_freedom_is_the_cauchy_law(p):
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.9995])
def test_two_degrees_of_freedom_have_a_closed_form_quantile(p):
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)


@pytest.mark.parametrize("df, p, table", [(5, 0.975, 2.570582), (9, 0.975, 2.262157), (8, 0.995, 3.355387),
                                          (30, 0.999, 3.385185)])
def test_quantiles_match_the_printed_tables(df, p, table):
    assert t_quantile(p, df) == pytest.approx(table, abs=1e-5)


def test_many_degrees_of_freedom_approach_the_normal_law():
    assert t_quantile(0.975, 2000) == pytest.approx(1.959964, abs=2e-3)


def test_the_cdf_is_symmetric_and_inverts_the_quantile():
    for df in (1, 2, 3, 7, 8):
        assert t_cdf(0.0, df) == 0.5
        assert t_cdf(-1.3, df) == pytest.approx(1 - t_cdf(1.3, df))
        assert t_cdf(t_quantile(0.99, df), df) == pytest.approx(0.99)
    assert t_quantile(0.01, 6) == pytest.approx(-t_quantile(0.99, 6))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_cdf(1.0, 0)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        t_quantile(1.0, 3)


@pytest.mark.parametrize("df", [0, -3, 2.5, 0.5])
def test_degrees_of_freedom_must_be_a_whole_number_from_one(df):
    with pytest.raises(ValueError, match=rf"^degrees of freedom must be a whole number >= 1, got {df}$"):
        t_cdf(1.0, df)


def test_a_whole_number_written_as_a_float_is_that_many_degrees_of_freedom():
    assert t_cdf(1.3, 9.0) == t_cdf(1.3, 9)
    assert t_cdf(1.3, 4.0) == t_cdf(1.3, 4)


@pytest.mark.parametrize("p", [0.0, -0.5, 1.0, 1.5])
def test_a_quantile_needs_p_strictly_between_0_and_1(p):
    with pytest.raises(ValueError, match=rf"^p must lie strictly between 0 and 1, got {p}$"):
        t_quantile(p, 3)


def test_the_median_is_zero():
    assert t_quantile(0.5, 1) == 0.0 and t_quantile(0.5, 7) == 0.0


def test_a_quantile_far_out_in_the_tail_is_found():
    """At 1 degree of freedom, p = 1 − 1e-12 lies at t = cot(π · 1e-12) ≈ 3.2e11: the search for a bracket
    must grow geometrically (linear steps would take 1e11 of them) and without overflow."""
    assert t_quantile(1 - 1e-12, 1) == pytest.approx(1 / math.tan(math.pi * 1e-12), rel=1e-3)


def test_quantiles_end_on_pinned_bits_within_the_bisections_width_of_the_true_ones():
    """Exactly these values: the check's recorded tolerances are made of them, and a change to the bracket's
    growth or to a comparison of the search moves them within its 1e-12 width; and each within that width of
    the quantile scipy computes."""
    from scipy import stats
    pinned = {(1 - 0.01 / 24, 2): 34.61936175638402, (0.75, 1): 0.9999999999995453,
              (0.975, 8): 2.306004135204603, (1 - 0.01 / 24, 8): 5.189191474202744, (0.995, 3): 5.840909309734343}
    for (p, df), value in pinned.items():
        assert t_quantile(p, df) == value
        assert value == pytest.approx(stats.t.ppf(p, df), rel=1e-12)
