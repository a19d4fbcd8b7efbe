"""SPC charts and run rules against Montgomery's published worked examples.

Source: D. C. Montgomery, *Introduction to Statistical Quality Control*, 6th ed. (Wiley 2009);
the tables are typed from the book, each test names its example. Published limits are rounded
as printed, so comparisons use the printed precision.
"""

from __future__ import annotations

import numpy as np
import pytest

from shopfloor.analytics.quality import (
    CUSUM,
    EWMA,
    IMR,
    NP,
    C,
    P,
    RuleSet,
    U,
    XbarR,
    XbarS,
    c_chart,
    check,
    cusum,
    ewma,
    imr,
    np_chart,
    p_chart,
    u_chart,
    xbar_r,
    xbar_s,
)
from shopfloor.core.errors import ConfigError

# Example 6.1 / Table 6.1: flow width (microns) of a hard-bake process, 25 samples of 5 wafers,
# with the printed sample means and ranges.
FLOW_WIDTH = [
    ([1.3235, 1.4128, 1.6744, 1.4573, 1.6914], 1.5119, 0.3679),
    ([1.4314, 1.3592, 1.6075, 1.4666, 1.6109], 1.4951, 0.2517),
    ([1.4284, 1.4871, 1.4932, 1.4324, 1.5674], 1.4817, 0.1390),
    ([1.5028, 1.6352, 1.3841, 1.2831, 1.5507], 1.4712, 0.3521),
    ([1.5604, 1.2735, 1.5265, 1.4363, 1.6441], 1.4882, 0.3706),
    ([1.5955, 1.5451, 1.3574, 1.3281, 1.4198], 1.4492, 0.2674),
    ([1.6274, 1.5064, 1.8366, 1.4177, 1.5144], 1.5805, 0.4189),
    ([1.4190, 1.4303, 1.6637, 1.6067, 1.5519], 1.5343, 0.2447),
    ([1.3884, 1.7277, 1.5355, 1.5176, 1.3688], 1.5076, 0.3589),
    ([1.4039, 1.6697, 1.5089, 1.4627, 1.5220], 1.5134, 0.2658),
    ([1.4158, 1.7667, 1.4278, 1.5928, 1.4181], 1.5242, 0.3509),
    ([1.5821, 1.3355, 1.5777, 1.3908, 1.7559], 1.5284, 0.4204),
    ([1.2856, 1.4106, 1.4447, 1.6398, 1.1928], 1.3947, 0.4470),
    ([1.4951, 1.4036, 1.5893, 1.6458, 1.4969], 1.5261, 0.2422),
    ([1.3589, 1.2863, 1.5996, 1.2497, 1.5471], 1.4083, 0.3499),
    ([1.5747, 1.5301, 1.5171, 1.1839, 1.8662], 1.5344, 0.6823),
    ([1.3680, 1.7269, 1.3957, 1.5014, 1.4449], 1.4874, 0.3589),
    ([1.4163, 1.3864, 1.3057, 1.6210, 1.5573], 1.4573, 0.3153),
    ([1.5796, 1.4185, 1.6541, 1.5116, 1.7247], 1.5777, 0.3062),
    ([1.7106, 1.4412, 1.2361, 1.3820, 1.7601], 1.5060, 0.5240),
    ([1.4371, 1.5051, 1.3485, 1.5670, 1.4880], 1.4691, 0.2185),
    ([1.4738, 1.5936, 1.6583, 1.4973, 1.4720], 1.5390, 0.1863),
    ([1.5917, 1.4333, 1.5551, 1.5295, 1.6866], 1.5592, 0.2533),
    ([1.6399, 1.5243, 1.5705, 1.5563, 1.5530], 1.5688, 0.1156),
    ([1.5797, 1.3663, 1.6240, 1.3732, 1.6887], 1.5263, 0.3224),
]
WIDTHS = [row[0] for row in FLOW_WIDTH]

# Example 6.3 / Table 6.3: inside diameter (mm) of forged piston rings, 25 samples of 5.
PISTON_RINGS = [
    [74.030, 74.002, 74.019, 73.992, 74.008],
    [73.995, 73.992, 74.001, 74.011, 74.004],
    [73.988, 74.024, 74.021, 74.005, 74.002],
    [74.002, 73.996, 73.993, 74.015, 74.009],
    [73.992, 74.007, 74.015, 73.989, 74.014],
    [74.009, 73.994, 73.997, 73.985, 73.993],
    [73.995, 74.006, 73.994, 74.000, 74.005],
    [73.985, 74.003, 73.993, 74.015, 73.988],
    [74.008, 73.995, 74.009, 74.005, 74.004],
    [73.998, 74.000, 73.990, 74.007, 73.995],
    [73.994, 73.998, 73.994, 73.995, 73.990],
    [74.004, 74.000, 74.007, 74.000, 73.996],
    [73.983, 74.002, 73.998, 73.997, 74.012],
    [74.006, 73.967, 73.994, 74.000, 73.984],
    [74.012, 74.014, 73.998, 73.999, 74.007],
    [74.000, 73.984, 74.005, 73.998, 73.996],
    [73.994, 74.012, 73.986, 74.005, 74.007],
    [74.006, 74.010, 74.018, 74.003, 74.000],
    [73.984, 74.002, 74.003, 74.005, 73.997],
    [74.000, 74.010, 74.013, 74.020, 74.003],
    [73.982, 74.001, 74.015, 74.005, 73.996],
    [74.004, 73.999, 73.990, 74.006, 74.009],
    [74.010, 73.989, 73.990, 74.009, 74.014],
    [74.015, 74.008, 73.993, 74.000, 74.010],
    [73.982, 73.984, 73.995, 74.017, 74.013],
]

# Example 7.1: frozen orange juice concentrate cans, 30 samples of n = 50, nonconforming cans.
ORANGE_JUICE = [
    12,
    15,
    8,
    10,
    4,
    7,
    16,
    9,
    14,
    10,
    5,
    6,
    17,
    12,
    22,
    8,
    10,
    5,
    13,
    11,
    20,
    18,
    24,
    15,
    9,
    12,
    7,
    13,
    9,
    6,
]
# Example 7.3: nonconformities in 26 samples of 100 printed circuit boards.
CIRCUIT_BOARDS = [
    21,
    24,
    16,
    12,
    15,
    5,
    28,
    20,
    31,
    25,
    20,
    24,
    16,
    19,
    10,
    17,
    13,
    22,
    18,
    39,
    30,
    24,
    16,
    19,
    17,
    15,
]
# Example 7.5: total nonconformities in 20 samples of n = 5 personal computers.
COMPUTERS = [10, 12, 8, 14, 10, 16, 11, 7, 10, 15, 9, 5, 7, 11, 12, 6, 8, 10, 7, 5]
# Example 6.5: cost of processing mortgage loan applications, 20 weeks (individuals).
LOAN_COST = [
    310,
    288,
    297,
    298,
    307,
    303,
    294,
    297,
    308,
    306,
    294,
    299,
    297,
    299,
    314,
    295,
    293,
    306,
    301,
    304,
]
# Example 9.1 / Table 9.1: 20 values from N(10, 1), then 10 from N(11, 1).
CUSUM_DATA = [
    9.45,
    7.99,
    9.29,
    11.66,
    12.16,
    10.18,
    8.04,
    11.46,
    9.20,
    10.34,
    9.03,
    11.47,
    10.51,
    9.40,
    10.08,
    9.37,
    10.62,
    10.31,
    8.52,
    10.84,
    10.90,
    9.33,
    12.29,
    11.50,
    10.60,
    11.08,
    10.38,
    11.62,
    11.31,
    10.52,
]


def test_table_typed_correctly():
    """Our typed values reproduce the printed subgroup means and ranges of Table 6.1."""
    for values, xbar, r in FLOW_WIDTH:
        assert np.mean(values) == pytest.approx(xbar, abs=1e-4)
        assert np.ptp(values) == pytest.approx(r, abs=6e-5)


def test_xbar_r_example_6_1():
    xc, rc = xbar_r(WIDTHS)
    assert xc.center == pytest.approx(1.5056, abs=1e-4)
    assert rc.center == pytest.approx(0.32521, abs=1e-5)
    assert xc.ucl[0] == pytest.approx(1.6932, abs=2e-4)
    assert xc.lcl[0] == pytest.approx(1.3180, abs=2e-4)
    assert rc.ucl[0] == pytest.approx(0.6876, abs=2e-4)
    assert rc.lcl[0] == 0.0
    # the book: no point of the phase I data is out of control
    assert xc.out_of_control() == [] and rc.out_of_control() == []


def test_xbar_s_example_6_3():
    xc, sc = xbar_s(PISTON_RINGS)
    assert xc.center == pytest.approx(74.001, abs=1e-3)
    assert sc.center == pytest.approx(0.0094, abs=1e-4)
    assert xc.ucl[0] == pytest.approx(74.014, abs=1e-3)
    assert xc.lcl[0] == pytest.approx(73.988, abs=1e-3)
    assert sc.ucl[0] == pytest.approx(0.0196, abs=2e-4)
    assert sc.lcl[0] == 0.0
    _xr, rr = xbar_r(PISTON_RINGS)  # Example 6.3 R chart: R̄ = 0.023
    assert rr.center == pytest.approx(0.023, abs=5e-4)


def test_imr_example_6_5():
    ic, mc = imr(LOAN_COST)
    assert ic.center == pytest.approx(300.5)
    assert mc.center == pytest.approx(7.79, abs=5e-3)
    assert ic.ucl[0] == pytest.approx(321.22, abs=0.02)
    assert ic.lcl[0] == pytest.approx(279.78, abs=0.02)
    assert mc.ucl[0] == pytest.approx(25.45, abs=0.02)
    assert ic.out_of_control() == [] and mc.out_of_control() == []


def test_p_and_np_example_7_1():
    pc = p_chart(ORANGE_JUICE, 50)
    assert pc.center == pytest.approx(0.2313, abs=1e-4)
    assert pc.ucl[0] == pytest.approx(0.4102, abs=1e-4)
    assert pc.lcl[0] == pytest.approx(0.0524, abs=1e-4)
    assert pc.out_of_control() == [14, 22]  # samples 15 and 23 in the book
    npc = np_chart(ORANGE_JUICE, 50)
    assert npc.center == pytest.approx(50 * 0.2313, abs=5e-3)
    assert npc.out_of_control() == [14, 22]
    varying = p_chart(ORANGE_JUICE[:3], [50, 100, 80])
    assert varying.ucl[0] > varying.ucl[1]  # wider limits for the smaller sample


def test_c_example_7_3_and_u_example_7_5():
    cc = c_chart(CIRCUIT_BOARDS)
    assert cc.center == pytest.approx(19.85, abs=5e-3)
    assert cc.ucl[0] == pytest.approx(33.22, abs=0.015)
    assert cc.lcl[0] == pytest.approx(6.48, abs=0.015)
    assert cc.out_of_control() == [5, 19]  # samples 6 and 20
    uc = u_chart(COMPUTERS, 5)
    assert uc.center == pytest.approx(1.93)
    assert uc.ucl[0] == pytest.approx(3.79, abs=5e-3)
    assert uc.lcl[0] == pytest.approx(0.07, abs=5e-3)
    assert uc.out_of_control() == []


def test_cusum_example_9_1():
    hi, lo, viol = cusum(CUSUM_DATA, target=10.0, sigma=1.0, k=0.5, h=5.0)
    assert hi[0] == 0.0 and lo[1] == pytest.approx(1.56, abs=1e-9)  # C-_2 = (9.5 - 7.99) + C-_1 = 1.51 + 0.05
    first = viol[0]
    assert (first.index, first.rule) == (28, "cusum_up")  # signals at sample 29
    assert hi[28] == pytest.approx(5.28, abs=5e-3)
    assert first.extra["since"] == 22  # N+ = 7: the shift started after sample 22
    assert first.extra["mean"] == pytest.approx(11.25, abs=0.01)  # μ̂ = 10 + 0.5 + 5.28/7
    stream = CUSUM(target=10.0, sigma=1.0)
    hits = [i for i, x in enumerate(CUSUM_DATA) if stream.learn_one(x)]
    assert hits[0] == 28


def test_ewma_example_9_2():
    chart = ewma(CUSUM_DATA, target=10.0, sigma=1.0, lam=0.1, L=2.7)
    assert chart.points[0] == pytest.approx(9.945)
    assert chart.points[1] == pytest.approx(9.7495)
    assert chart.ucl[0] == pytest.approx(10.27, abs=5e-3)
    assert chart.ucl[1] == pytest.approx(10.36, abs=5e-3)
    # z_28 = 10.5731 stays below the limit; z_29 = 10.6468 > UCL 10.6187 is the first signal
    assert chart.points[27] == pytest.approx(10.5731, abs=1e-4)
    assert chart.violations[0].index == 28
    stream = EWMA(target=10.0, sigma=1.0, lam=0.1, L=2.7)
    assert next(i for i, x in enumerate(CUSUM_DATA) if stream.learn_one(x)) == 28


def test_streaming_matches_history_with_book_limits():
    xc, _rc = xbar_r(WIDTHS)
    chart = XbarR(5, warmup=25)
    assert all(chart.learn_one(g) == [] for g in WIDTHS)  # phase I: learning
    assert chart.center == pytest.approx(xc.center)
    assert chart.sigma == pytest.approx(0.32521 / 2.326, abs=1e-5)
    shifted = [x + 0.3 for x in WIDTHS[0]]  # a 0.3 micron shift: beyond the X̄ UCL
    assert [v.chart for v in chart.learn_one(shifted)] == ["xbar"]
    assert chart.learn_one([1.5, 1.5, 1.5, 1.5, 1.5 + 0.9])[-1].chart == "r"
    with pytest.raises(ConfigError, match="subgroup"):
        chart.learn_one([1.0, 2.0])
    s_chart = XbarS(5, warmup=25)
    for g in PISTON_RINGS:
        s_chart.learn_one(g)
    assert s_chart.sigma == pytest.approx(0.0094 / 0.9400, abs=2e-4)
    ind = IMR(warmup=20)
    for x in LOAN_COST:
        ind.learn_one(x)
    assert ind.sigma == pytest.approx(7.79 / 1.128, abs=0.01)
    assert [v.chart for v in ind.learn_one(330.0)] == ["individuals", "mr"]


def test_streaming_attribute_charts():
    p = P(warmup=30)
    viol = [p.learn_one(d, 50) for d in ORANGE_JUICE]
    assert p.pbar == pytest.approx(0.2313, abs=1e-4) and not any(viol)
    assert p.learn_one(24, 50)[0].rule == "we1"
    npc = NP(50, pbar=0.2313)
    assert npc.learn_one(22)[0].chart == "np"
    c = C(cbar=19.85)
    assert [i for i, x in enumerate(CIRCUIT_BOARDS) if c.learn_one(x)] == [5, 19]
    u = U(ubar=1.93)
    assert u.learn_one(20, 5)[0].chart == "u" and u.learn_one(10, 5) == []
    with pytest.raises(ConfigError):
        u.learn_one(-1, 5)


def test_western_electric_rules():
    assert [v.rule for v in check([0.0, 2.5, 0.3, 2.2], "we")] == ["we2"]
    assert [v.rule for v in check([0.0, 2.5, 0.3, -2.2], "we")] == []  # opposite sides
    assert [v.index for v in check([1.5, 1.2, 0.2, 1.1, 1.3], "we")] == [4]
    assert [v.index for v in check([0.3] * 8, "we")] == [7]
    assert [v.rule for v in check([-3.2], "we")] == ["we1"]
    calm = np.random.default_rng(1).uniform(0.1, 0.9, 200) * np.tile([1.0, -1.0], 100)
    assert check(calm, "we") == []


def test_nelson_rules():
    def fired(z):
        return {v.rule for v in check(z, "nelson")}

    assert fired([0.1 * i for i in range(6)]) == {"nelson3"}  # steadily increasing
    assert "nelson4" in fired([0.5 * (-1) ** i for i in range(14)])
    assert fired([0.2 * (-1) ** i + 0.01 * i for i in range(15)]) >= {"nelson7"}
    assert fired([1.5 * (-1) ** i for i in range(8)]) >= {"nelson8"}
    assert fired([0.4] * 9) >= {"nelson2"}
    assert fired([0.4] * 8) == set()
    rs = RuleSet(["nelson1", "we4"])
    assert [v.rule for v in rs.check_one(3.5)] == ["nelson1"]
    with pytest.raises(ConfigError, match="unknown run rules"):
        RuleSet(["nelson9"])
    with pytest.raises(ConfigError):
        RuleSet("iso")


def test_bad_input_is_named():
    with pytest.raises(ConfigError, match="subgroups"):
        xbar_r([[1.0, float("nan")], [1.0, 2.0]])
    with pytest.raises(ConfigError, match="p chart"):
        p_chart([3, 60], 50)
    with pytest.raises(ConfigError, match="individuals"):
        imr([1.0])
    with pytest.raises(ConfigError, match="finite"):
        IMR(center=0, sigma=1).learn_one(float("inf"))


def test_violations_are_json_events():
    import json

    pc = p_chart(ORANGE_JUICE, 50)
    events = [v.to_dict() for v in pc.violations]
    assert [e["index"] for e in events if e["rule"] == "we1"] == [14, 22]
    assert json.loads(json.dumps(pc.to_dict()))["name"] == "p"
    _, _, viol = cusum(CUSUM_DATA, target=10.0, sigma=1.0)
    assert viol[0].to_dict()["since"] == 22
