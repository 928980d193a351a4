"""``segments report``: one self-contained HTML page from the published marts.

It reads the published file (``segments publish``: $SEGMENTS_PUBLISHED_PATH, else
published.duckdb beside the warehouse), read-only, and nothing else, so the report holds
only what BI tools see (no personal data). Every figure is aggregated in DuckDB; the page
carries counts per cell, per segment and per date, and quantiles, never customer rows, so
it stays small at a million customers.

What it shows: segment sizes over time per family; the RFM grid (R score against the
rounded average of F and M, customers and revenue per cell); the transitions between the
last two as-of dates of the membership history; the drift status with its figures;
recency, frequency and revenue per RFM segment; and, when their marts are published and
not empty, the discovered clusters, churn risk against CLV band, and lift against the
holdout groups (otherwise a one-line note says why the section is empty).

The page (segments.report_html) inlines its style, data and JavaScript and forbids every
fetch: it opens offline. It is written atomically (a temporary file in the same folder,
then renamed), by default as segment_report.html beside the published file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segments.errors import CommandError
from segments.publish import add_published_argument, resolve_published
from segments.warehouse import add_database_argument, resolve_database

if TYPE_CHECKING:  # imported by report() only, so ``segments --help`` stays light
    import altair as alt
    import duckdb

    from segments.report_html import Block, Section

DEFAULT_REPORT_NAME = "segment_report.html"
REQUIRED_MARTS = (
    "publication",
    "segment_sizes",
    "segment_memberships",
    "customer_segments",
    "customer_rfm",
    "segment_drift",
)
FAMILY_TITLES = {
    "rfm": "RFM segments",
    "lifecycle": "Lifecycle stages",
    "behavioural": "Behavioural segments",
    "clv_band": "Predicted value (CLV band)",
    "churn_risk": "Churn risk",
    "cluster": "Discovered clusters",
}
BAND_ORDER = ["high", "medium", "low", "not_scored"]
STATUS_COLOURS = {"ok": "#3f9142", "warn": "#f0b429", "fail": "#d64545"}
WIDE = 520  # pixels: two charts side by side on a laptop screen
JSON = str | int | float | bool | None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_argument(parser)
    add_published_argument(parser, "published file to read")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"HTML file to write (default {DEFAULT_REPORT_NAME} beside the published file)",
    )


# --- reading the published file ------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """The open published file and what the whole report refers to."""

    connection: duckdb.DuckDBPyConnection
    marts: frozenset[str]
    published_at: datetime | None
    latest_as_of_date: date
    current_as_of_date: date


def json_value(value: object) -> JSON:
    """A DuckDB value as JSON for a chart's data (decimals as numbers, dates as ISO text)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def records(
    connection: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[object] = ()
) -> list[dict[str, JSON]]:
    """The rows of a query as dicts of JSON values."""
    cursor = connection.execute(sql, list(parameters))
    names = [column[0] for column in cursor.description]
    return [{name: json_value(value) for name, value in zip(names, row, strict=True)} for row in cursor.fetchall()]


def rows(connection: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    return connection.execute(sql, list(parameters)).fetchall()


def open_published(published: Path) -> Published:
    """Open the published file read-only and check it holds the marts the report needs."""
    import duckdb

    from segments.audit import one_line

    if not published.is_file():
        raise CommandError(f"published file {published} does not exist: run segments publish first")
    try:
        connection = duckdb.connect(str(published), read_only=True)
    except duckdb.Error as error:
        raise CommandError(f"cannot open the published file {published} read-only: {one_line(error)}") from error
    marts = frozenset(
        name
        for (name,) in rows(
            connection,
            "select table_name from duckdb_tables() where schema_name = 'marts' "
            "union all select view_name from duckdb_views() where schema_name = 'marts'",
        )
    )
    missing = [name for name in REQUIRED_MARTS if name not in marts]
    if missing:
        connection.close()
        raise CommandError(
            f"the published file {published} lacks marts.{', marts.'.join(missing)}: run dbt build and segments publish"
        )
    facts = rows(
        connection,
        "select (select max(published_at) from marts.publication), "
        "(select max(as_of_date) from marts.segment_memberships), (select max(as_of_date) from marts.customer_rfm)",
    )[0]
    if facts[1] is None or facts[2] is None:
        connection.close()
        raise CommandError(f"the published file {published} holds no segments: run dbt build and segments publish")
    return Published(connection, marts, facts[0], facts[1], facts[2])


def has_rows(source: Published, mart: str) -> bool:
    return mart in source.marts and bool(rows(source.connection, f"select 1 from marts.{mart} limit 1"))


def latest_date(source: Published, mart: str) -> date | None:
    found = rows(source.connection, f"select max(as_of_date) from marts.{mart}")
    return found[0][0] if found else None


def family_order(families: Sequence[str]) -> list[str]:
    """Families in the order of FAMILY_TITLES, then any other alphabetically."""
    known = [family for family in FAMILY_TITLES if family in families]
    return known + sorted(set(families) - set(known))


def family_title(family: str) -> str:
    return FAMILY_TITLES.get(family, family)


# --- charts ------------------------------------------------------------------------------


def finish(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """A chart's Vega-Lite dict in the report's style."""
    styled = (
        chart.configure_view(stroke=None)
        .configure_axis(labelFontSize=12, titleFontSize=13, labelLimit=260)
        .configure_legend(labelFontSize=12, titleFontSize=13, labelLimit=260)
        .configure_title(fontSize=15, anchor="start")
    )
    spec: dict[str, Any] = styled.to_dict()
    return spec


def data(values: list[dict[str, JSON]]) -> alt.InlineData:
    import altair as alt

    return alt.InlineData(values=values)


# --- the sections ------------------------------------------------------------------------


def sizes_chart(family: str, values: list[dict[str, JSON]], dates: int) -> dict[str, Any]:
    import altair as alt

    tooltip = [
        alt.Tooltip("segment_name:N", title="Segment"),
        alt.Tooltip("as_of_date:N", title="As of"),
        alt.Tooltip("customers:Q", title="Customers", format=","),
        alt.Tooltip("share:Q", title="Share of customers", format=".1%"),
    ]
    base = alt.Chart(data(values), title=f"{family_title(family)}: customers per segment")
    if dates > 1:
        chart = base.mark_line(point=True).encode(
            x=alt.X("utcyearmonthdate(as_of_date):T", title="As-of date"),
            y=alt.Y("customers:Q", title="Customers"),
            color=alt.Color("segment_name:N", title="Segment"),
            tooltip=tooltip,
        )
    else:
        chart = base.mark_bar().encode(
            x=alt.X("customers:Q", title="Customers"),
            y=alt.Y("segment_name:N", title="Segment", sort="-x"),
            tooltip=tooltip,
        )
    return finish(chart.properties(width=WIDE - 160))


def sizes_section(source: Published) -> Section:
    from segments.report_html import Chart, Note, Section

    values = records(
        source.connection,
        "select segment_family, segment_name, as_of_date, customers, share from marts.segment_sizes "
        "order by segment_family, as_of_date, segment_name",
    )
    dates = rows(source.connection, "select count(distinct as_of_date), min(as_of_date) from marts.segment_sizes")[0]
    blocks: list[Block] = []
    if dates[0] == 1:
        blocks.append(Note(f"The history holds one as-of date ({dates[1]}): sizes are shown for it."))
    families = family_order(sorted({str(value["segment_family"]) for value in values}))
    for family in families:
        family_values = [value for value in values if value["segment_family"] == family]
        blocks.append(Chart(f"sizes-{family}", sizes_chart(family, family_values, int(dates[0]))))
    if not families:
        blocks.append(Note("segment_sizes is empty."))
    return Section(
        "Segment sizes over time",
        blocks,
        "Customers in each segment on every as-of date of the history, one chart per family. "
        "RFM segments and lifecycle stages split all customers; behavioural segments overlap.",
    )


def rfm_cells(source: Published) -> list[dict[str, JSON]]:
    """The 25 cells of the grid (empty ones with 0), on the latest as-of date."""
    return records(
        source.connection,
        """
        with cells as (
            select r_score, cast(round((f_score + m_score) / 2.0) as integer) as fm_score,
                count(*) as customers, sum(monetary) as revenue
            from marts.customer_segments
            where as_of_date = ? and r_score is not null
            group by all
        )
        select r.r_score, f.fm_score, coalesce(cells.customers, 0) as customers,
            coalesce(cells.revenue, 0)::double as revenue,
            coalesce(cells.customers, 0) / sum(coalesce(cells.customers, 0)) over () as share
        from range(1, 6) as r (r_score)
        cross join range(1, 6) as f (fm_score)
        left join cells on cells.r_score = r.r_score and cells.fm_score = f.fm_score
        order by r.r_score desc, f.fm_score
        """,
        [source.latest_as_of_date],
    )


def rfm_heatmap(values: list[dict[str, JSON]]) -> dict[str, Any]:
    import altair as alt

    x = alt.X("fm_score:O", title="Frequency and monetary score (average of F and M)", axis=alt.Axis(labelAngle=0))
    y = alt.Y("r_score:O", title="Recency score (5 = bought most recently)", sort="descending")
    tooltip = [
        alt.Tooltip("r_score:O", title="R score"),
        alt.Tooltip("fm_score:O", title="FM score"),
        alt.Tooltip("customers:Q", title="Customers", format=","),
        alt.Tooltip("share:Q", title="Share of scored customers", format=".1%"),
        alt.Tooltip("revenue:Q", title="Revenue", format=",.0f"),
    ]

    def grid(field: str, title: str, legend: str, scale: alt.Scale, text_format: str) -> alt.LayerChart:
        cell = (
            alt.Chart()
            .mark_rect(stroke="white")
            .encode(x=x, y=y, color=alt.Color(f"{field}:Q", title=legend, scale=scale), tooltip=tooltip)
        )
        label = (
            alt.Chart()
            .mark_text(fontSize=12)
            .encode(x=x, y=y, text=alt.Text(f"{field}:Q", format=text_format), tooltip=tooltip)
        )
        return alt.LayerChart(layer=[cell, label], title=title, width=300, height=260)

    chart = alt.hconcat(
        grid("customers", "Customers per cell", "Customers", alt.Scale(scheme="blues"), ","),
        grid("revenue", "Revenue per cell", "Revenue", alt.Scale(scheme="greens"), ",.0f"),
        data=data(values),
    ).resolve_scale(color="independent")
    return finish(chart)


def rfm_section(source: Published) -> Section:
    from segments.report_html import Chart, Note, Section

    cells = rfm_cells(source)
    unscored = rows(
        source.connection,
        "select count(*) from marts.customer_segments where as_of_date = ? and r_score is null",
        [source.latest_as_of_date],
    )[0][0]
    scored = sum(int(cell["customers"] or 0) for cell in cells)
    revenue = sum(float(cell["revenue"] or 0) for cell in cells)
    return Section(
        "RFM grid",
        [
            Chart("rfm-grid", rfm_heatmap(cells)),
            Note(
                f"{scored:,} scored customers with {revenue:,.2f} in revenue on {source.latest_as_of_date}; "
                f"{unscored:,} customers without a qualifying order (prospects) have no score and are not in the grid."
            ),
        ],
        "Each cell counts the customers with a recency score (rows) and an average of their frequency and "
        "monetary scores (columns, rounded, halves up), and sums their revenue (all qualifying orders up to "
        "the as-of date). Scores run from 1 (lowest fifth) to 5 (highest).",
    )


def partition_families(source: Published, dates: Sequence[date]) -> list[str]:
    """Families in which every customer is in exactly one segment on each of the dates."""
    found = rows(
        source.connection,
        "select segment_family from marts.segment_memberships where as_of_date in (?, ?) group by segment_family "
        "having count(*) = count(distinct customer_key || '|' || as_of_date) and count(distinct as_of_date) = 2",
        list(dates),
    )
    return family_order([family for (family,) in found])


def transition_cells(source: Published, family: str, earlier: date, later: date) -> list[dict[str, JSON]]:
    """Customers present on both dates per pair of segments, with the share of the earlier one."""
    return records(
        source.connection,
        """
        with earlier as (
            select customer_key, segment_name from marts.segment_memberships
            where segment_family = ? and as_of_date = ?
        ),
        later as (
            select customer_key, segment_name from marts.segment_memberships
            where segment_family = ? and as_of_date = ?
        ),
        moves as (
            select earlier.segment_name as from_segment, later.segment_name as to_segment, count(*) as customers
            from earlier inner join later using (customer_key)
            group by all
        )
        select from_segment, to_segment, customers,
            customers / sum(customers) over (partition by from_segment) as share_of_from
        from moves
        order by from_segment, to_segment
        """,
        [family, earlier, family, later],
    )


def transition_heatmap(family: str, values: list[dict[str, JSON]], earlier: date, later: date) -> dict[str, Any]:
    import altair as alt

    segments = sorted({str(value["from_segment"]) for value in values} | {str(value["to_segment"]) for value in values})
    size = max(220, 26 * len(segments))
    x = alt.X("to_segment:N", title=f"Segment on {later}", sort=segments, axis=alt.Axis(labelAngle=-40))
    y = alt.Y("from_segment:N", title=f"Segment on {earlier}", sort=segments)
    tooltip = [
        alt.Tooltip("from_segment:N", title=f"On {earlier}"),
        alt.Tooltip("to_segment:N", title=f"On {later}"),
        alt.Tooltip("customers:Q", title="Customers", format=","),
        alt.Tooltip("share_of_from:Q", title="Share of the earlier segment", format=".1%"),
    ]
    cells = (
        alt.Chart()
        .mark_rect(stroke="white")
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "share_of_from:Q",
                title="Share of the earlier segment",
                scale=alt.Scale(scheme="purples", domain=[0, 1]),
            ),
            tooltip=tooltip,
        )
    )
    labels = alt.Chart().mark_text(fontSize=11).encode(x=x, y=y, text=alt.Text("customers:Q", format=","))
    chart = alt.layer(cells, labels, data=data(values), title=f"{family_title(family)}: where customers moved")
    return finish(chart.properties(width=size, height=size))


def transitions_section(source: Published) -> Section:
    from segments.report_html import Chart, Note, Section

    title = "Transitions between the last two as-of dates"
    dates = [
        day
        for (day,) in rows(
            source.connection,
            "select distinct as_of_date from marts.segment_memberships order by as_of_date desc limit 2",
        )
    ]
    if len(dates) < 2:
        only = dates[0] if dates else "none"
        return Section(
            title,
            [Note(f"The published history holds one as-of date ({only}): transitions need two (segments backfill).")],
        )
    later, earlier = dates
    blocks: list[Block] = []
    for family in partition_families(source, [earlier, later]):
        cells = transition_cells(source, family, earlier, later)
        counts = rows(
            source.connection,
            """
            select count(*) filter (where e.customer_key is null), count(*) filter (where l.customer_key is null)
            from (select customer_key from marts.segment_memberships where segment_family = ? and as_of_date = ?) as e
            full join (select customer_key from marts.segment_memberships where segment_family = ? and as_of_date = ?)
                as l using (customer_key)
            """,
            [family, earlier, family, later],
        )[0]
        blocks.append(Chart(f"transitions-{family}", transition_heatmap(family, cells, earlier, later)))
        stayed = sum(int(cell["customers"] or 0) for cell in cells)
        blocks.append(
            Note(
                f"{family_title(family)}: {stayed:,} customers on both dates; {counts[0]:,} new on {later}, "
                f"{counts[1]:,} gone since {earlier} (erased or merged)."
            )
        )
    if not blocks:
        blocks.append(Note("No family puts every customer in one segment on both dates."))
    return Section(
        title,
        blocks,
        f"Rows: the segment on {earlier}; columns: the segment on {later}. Each cell counts the customers "
        "present on both dates; its colour is their share of the row's segment (the diagonal stayed). "
        "Families whose segments overlap (behavioural) are left out.",
    )


def family_status(source: Published, as_of: date) -> list[tuple[Any, ...]]:
    return rows(
        source.connection,
        """
        select segment_family,
            case max(case drift_status when 'fail' then 2 when 'warn' then 1 else 0 end)
                when 2 then 'fail' when 1 then 'warn' else 'ok' end as status,
            max(psi), max(baseline_psi), max(reference_psi), max(chi_square), max(cohens_w),
            count(*) filter (where is_moved),
            arg_max(segment_name, abs(share_change_points)) filter (where share_change_points is not null),
            arg_max(share_change_points, abs(share_change_points)) filter (where share_change_points is not null)
        from marts.segment_drift
        where as_of_date = ?
        group by segment_family
        """,
        [as_of],
    )


def drift_status_chart(source: Published) -> dict[str, Any]:
    import altair as alt

    values = records(
        source.connection,
        """
        select segment_family,
            case max(case drift_status when 'fail' then 2 when 'warn' then 1 else 0 end)
                when 2 then 'fail' when 1 then 'warn' else 'ok' end as drift_status,
            as_of_date, count(*) filter (where is_moved) as moved_segments
        from marts.segment_drift
        group by segment_family, as_of_date
        order by segment_family, as_of_date
        """,
    )
    families = family_order(sorted({str(value["segment_family"]) for value in values}))
    dates = len({value["as_of_date"] for value in values})
    chart = (
        alt.Chart(data(values), title="Drift status per family and as-of date")
        .mark_rect(stroke="white")
        .encode(
            x=alt.X("as_of_date:O", title="As-of date", axis=alt.Axis(labelAngle=-40, labelOverlap=True)),
            y=alt.Y("segment_family:N", title="Segment family", sort=families),
            color=alt.Color(
                "drift_status:N",
                title="Status",
                scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values())),
            ),
            tooltip=[
                alt.Tooltip("segment_family:N", title="Family"),
                alt.Tooltip("as_of_date:N", title="As of"),
                alt.Tooltip("drift_status:N", title="Status"),
                alt.Tooltip("moved_segments:Q", title="Segments that moved"),
            ],
        )
        .properties(height=alt.Step(28), width=alt.Step(40) if dates <= 20 else 800)  # a daily history: 800 px
    )
    return finish(chart)


def share_change_chart(values: list[dict[str, JSON]], as_of: date) -> dict[str, Any]:
    import altair as alt

    chart = (
        alt.Chart(data(values), title=f"Change in share since the previous as-of date ({as_of})")
        .mark_bar()
        .encode(
            x=alt.X("share_change_points:Q", title="Change in share of customers (percentage points)"),
            y=alt.Y("label:N", title=None, sort=None),
            color=alt.Color(
                "drift_status:N",
                title="Status",
                scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values())),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="Segment"),
                alt.Tooltip("share:Q", title="Share now", format=".1%"),
                alt.Tooltip("previous_share:Q", title="Share before", format=".1%"),
                alt.Tooltip("share_change_points:Q", title="Change (points)", format="+.2f"),
                alt.Tooltip("segment_psi:Q", title="Segment PSI", format=".3f"),
                alt.Tooltip("z_score:Q", title="z-score", format=".2f"),
            ],
        )
        .properties(width=WIDE - 200)
    )
    return finish(chart)


def drift_section(source: Published) -> Section:
    from segments.report_html import Chart, Note, Section, Table

    as_of = latest_date(source, "segment_drift")
    title = "Drift"
    if as_of is None:
        return Section(title, [Note("segment_drift is empty: no drift measured yet.")])
    statuses = {row[0]: row for row in family_status(source, as_of)}
    table = Table(
        [
            "Family",
            "Status",
            "PSI vs previous date",
            "PSI vs baseline",
            "PSI vs reference",
            "Chi-square",
            "Cohen's w",
            "Segments moved",
            "Largest move",
            "Points",
        ],
        [list(statuses[family]) for family in family_order(list(statuses))],
        {
            "PSI vs previous date": ".3f",
            "PSI vs baseline": ".3f",
            "PSI vs reference": ".3f",
            "Chi-square": ",.1f",
            "Cohen's w": ".3f",
            "Points": "+.2f",
        },
    )
    changes = records(
        source.connection,
        """
        select segment_family, segment_family || ' / ' || segment_name as label, drift_status, share,
            previous_share, share_change_points, segment_psi, z_score
        from marts.segment_drift
        where as_of_date = ? and share_change_points is not null
        order by share_change_points desc
        """,
        [as_of],
    )
    order = family_order(sorted({str(change["segment_family"]) for change in changes}))
    changes.sort(key=lambda change: order.index(str(change["segment_family"])))  # stable: by change within
    blocks: list[Block] = [Chart("drift-status", drift_status_chart(source)), table]
    if changes:
        blocks.append(Chart("drift-share-change", share_change_chart(changes, as_of)))
    else:
        blocks.append(Note(f"{as_of} is the first as-of date of the history: no earlier date to compare with."))
    return Section(
        title,
        blocks,
        f"Status on {as_of} (worst segment of the family): fail or warn when the population stability index "
        "(PSI) against the previous date or the trailing baseline passes its threshold, or a segment's share moved "
        "too far (dbt vars drift_*). PSI is family-wide for RFM and lifecycle, the largest segment's otherwise; "
        "chi-square and Cohen's w compare the customers with the previous date's shares.",
    )


MEASURES = (
    ("recency_days", "Days since the last order"),
    ("frequency", "Orders per customer"),
    ("monetary", "Revenue per customer"),
)


def distribution(source: Published, measure: str) -> list[dict[str, JSON]]:
    """Quantiles of one customer_rfm measure per RFM segment (customers with an order)."""
    value = f"r.{measure}::double"
    return records(
        source.connection,
        f"""
        select s.rfm_segment as segment, count(*) as customers, min({value}) as minimum,
            quantile_cont({value}, 0.05) as p05, quantile_cont({value}, 0.25) as q1,
            quantile_cont({value}, 0.5) as median, quantile_cont({value}, 0.75) as q3,
            quantile_cont({value}, 0.95) as p95, max({value}) as maximum
        from marts.customer_rfm as r
        inner join marts.customer_segments as s using (customer_key, as_of_date)
        where r.as_of_date = ? and r.frequency > 0
        group by s.rfm_segment
        order by median
        """,
        [source.current_as_of_date],
    )


def boxplot(values: list[dict[str, JSON]], measure_title: str) -> dict[str, Any]:
    import altair as alt

    segments = [str(value["segment"]) for value in values]
    y = alt.Y("segment:N", title="RFM segment", sort=segments)
    tooltip = [
        alt.Tooltip("segment:N", title="Segment"),
        alt.Tooltip("customers:Q", title="Customers", format=","),
        alt.Tooltip("p05:Q", title="5th percentile", format=",.1f"),
        alt.Tooltip("q1:Q", title="25th percentile", format=",.1f"),
        alt.Tooltip("median:Q", title="Median", format=",.1f"),
        alt.Tooltip("q3:Q", title="75th percentile", format=",.1f"),
        alt.Tooltip("p95:Q", title="95th percentile", format=",.1f"),
    ]
    whisker = alt.Chart().mark_rule(color="#7b8794").encode(x=alt.X("p05:Q", title=measure_title), x2="p95:Q", y=y)
    box = alt.Chart().mark_bar(color="#9fb3c8", size=14).encode(x="q1:Q", x2="q3:Q", y=y, tooltip=tooltip)
    median = alt.Chart().mark_tick(color="#102a43", size=14, thickness=2).encode(x="median:Q", y=y, tooltip=tooltip)
    chart = alt.layer(whisker, box, median, data=data(values), title=f"{measure_title} by RFM segment")
    return finish(chart.properties(width=WIDE - 200))


def distributions_section(source: Published) -> Section:
    from segments.report_html import Chart, Section

    blocks: list[Block] = [
        Chart(f"distribution-{measure}", boxplot(distribution(source, measure), title)) for measure, title in MEASURES
    ]
    return Section(
        "Feature distributions per RFM segment",
        blocks,
        f"On {source.current_as_of_date}, customers with a qualifying order. Boxes span the middle half of the "
        "segment's customers (25th to 75th percentile), the dark tick is the median, the whiskers reach the 5th "
        "and 95th percentiles; computed in the warehouse.",
    )


def clusters_section(source: Published) -> Section:
    import altair as alt

    from segments.report_html import Chart, Note, Section, Table

    title = "Discovered clusters"
    if not has_rows(source, "cluster_profiles"):
        return Section(title, [Note(absent_note(source, "cluster_profiles", "no clusters to show"))])
    as_of = latest_date(source, "cluster_profiles")
    profiles = records(
        source.connection,
        "select cluster_rank, cluster_name, customers, share, centroid_recency_days, centroid_frequency, "
        "centroid_monetary, centroid_avg_order_value, centroid_engagement_score "
        "from marts.cluster_profiles where as_of_date = ? order by cluster_rank",
        [as_of],
    )
    chart = (
        alt.Chart(data(profiles), title=f"Customers per cluster ({as_of})")
        .mark_bar(color="#486581")
        .encode(
            x=alt.X("customers:Q", title="Customers"),
            y=alt.Y("cluster_name:N", title="Cluster", sort=[str(profile["cluster_name"]) for profile in profiles]),
            tooltip=[
                alt.Tooltip("cluster_name:N", title="Cluster"),
                alt.Tooltip("customers:Q", title="Customers", format=","),
                alt.Tooltip("share:Q", title="Share of scored customers", format=".1%"),
                alt.Tooltip("centroid_recency_days:Q", title="Days since last order", format=",.0f"),
                alt.Tooltip("centroid_frequency:Q", title="Orders", format=",.1f"),
                alt.Tooltip("centroid_monetary:Q", title="Revenue", format=",.0f"),
            ],
        )
        .properties(width=WIDE - 200)
    )
    table = Table(
        ["Rank", "Cluster", "Customers", "Share", "Days since order", "Orders", "Revenue", "Order value", "Engagement"],
        [list(profile.values()) for profile in profiles],
        {"Share": ".1%", "Days since order": ",.0f", "Orders": ",.1f", "Revenue": ",.0f", "Order value": ",.0f"},
    )
    return Section(
        title,
        [Chart("clusters", finish(chart)), table],
        "k-means clusters of the scored customers; each is named from its centre (the typical customer of the "
        "cluster, shown in the table in the features' own units).",
    )


def absent_note(source: Published, mart: str, consequence: str) -> str:
    if mart not in source.marts:
        return f"marts.{mart} is not in the published file: {consequence}."
    return f"marts.{mart} is empty: {consequence}."


def predictions_section(source: Published) -> Section:
    import altair as alt

    from segments.report_html import Chart, Note, Section, Table

    title = "Churn risk and predicted value (CLV)"
    if not has_rows(source, "customer_predictions"):
        return Section(title, [Note(absent_note(source, "customer_predictions", "no predictions to show"))])
    as_of = latest_date(source, "customer_predictions")
    cells = records(
        source.connection,
        "select churn_risk, clv_band, count(*) as customers, sum(predicted_clv) as predicted_clv "
        "from marts.customer_predictions where as_of_date = ? group by all order by all",
        [as_of],
    )
    x = alt.X("clv_band:N", title="Predicted value band (CLV)", sort=BAND_ORDER, axis=alt.Axis(labelAngle=0))
    y = alt.Y("churn_risk:N", title="Churn risk", sort=BAND_ORDER)
    tooltip = [
        alt.Tooltip("churn_risk:N", title="Churn risk"),
        alt.Tooltip("clv_band:N", title="CLV band"),
        alt.Tooltip("customers:Q", title="Customers", format=","),
        alt.Tooltip("predicted_clv:Q", title="Predicted spend", format=",.0f"),
    ]
    heatmap = alt.layer(
        alt.Chart()
        .mark_rect(stroke="white")
        .encode(
            x=x,
            y=y,
            color=alt.Color("customers:Q", title="Customers", scale=alt.Scale(scheme="oranges")),
            tooltip=tooltip,
        ),
        alt.Chart().mark_text(fontSize=12).encode(x=x, y=y, text=alt.Text("customers:Q", format=",")),
        data=data(cells),
        title=f"Customers by churn risk and CLV band ({as_of})",
    ).properties(width=320, height=220)
    bands = rows(
        source.connection,
        "select clv_band, count(*), avg(predicted_clv), sum(predicted_clv), avg(churn_probability), "
        "avg(probability_alive) from marts.customer_predictions where as_of_date = ? group by clv_band",
        [as_of],
    )
    bands.sort(key=lambda band: BAND_ORDER.index(band[0]) if band[0] in BAND_ORDER else len(BAND_ORDER))
    table = Table(
        [
            "CLV band",
            "Customers",
            "Average predicted spend",
            "Total predicted spend",
            "Churn probability",
            "Still active",
        ],
        [list(band) for band in bands],
        {
            "Average predicted spend": ",.2f",
            "Total predicted spend": ",.0f",
            "Churn probability": ".1%",
            "Still active": ".1%",
        },
    )
    return Section(
        title,
        [Chart("churn-clv", finish(heatmap)), table],
        "Predicted spend over the prediction horizon (BG/NBD and Gamma-Gamma) and the probability of no order in "
        "it (churn); customers without a qualifying order are not scored.",
    )


def lift_chart(values: list[dict[str, JSON]]) -> dict[str, Any]:
    import altair as alt

    y = alt.Y("label:N", title="Exported segment (export date)", sort=None)
    tooltip = [
        alt.Tooltip("label:N", title="Segment"),
        alt.Tooltip("period_number:O", title="Period"),
        alt.Tooltip("exported_conversion_rate:Q", title="Conversion, exported", format=".1%"),
        alt.Tooltip("holdout_conversion_rate:Q", title="Conversion, holdout", format=".1%"),
        alt.Tooltip("absolute_lift:Q", title="Lift (points of conversion)", format="+.1%"),
        alt.Tooltip("p_value:Q", title="p-value", format=".3f"),
    ]
    interval = (
        alt.Chart()
        .mark_rule()
        .encode(
            x=alt.X("lift_ci_lower:Q", title="Lift in conversion against the holdout (with confidence interval)"),
            x2="lift_ci_upper:Q",
            y=y,
            color=alt.Color("period_number:O", title="Period after the export"),
        )
    )
    point = (
        alt.Chart()
        .mark_point(filled=True, size=60)
        .encode(
            x=alt.X("absolute_lift:Q", axis=alt.Axis(format="+.0%")),
            y=y,
            color=alt.Color("period_number:O"),
            tooltip=tooltip,
        )
    )
    zero = alt.Chart().mark_rule(color="#7b8794", strokeDash=[4, 4]).encode(x=alt.datum(0))
    chart = alt.layer(interval, point, zero, data=data(values), title="Conversion lift against the holdout group")
    return finish(chart.properties(width=WIDE - 160))


def lift_section(source: Published) -> Section:
    from segments.report_html import Chart, Note, Section, Table

    title = "Lift against holdout groups"
    blocks: list[Block] = []
    if has_rows(source, "segment_lift"):
        lift = records(
            source.connection,
            "select segment_family || ' / ' || segment_name || ' (' || as_of_date || ')' as label, period_number, "
            "exported_customers, holdout_customers, exported_conversion_rate, holdout_conversion_rate, "
            "absolute_lift, lift_ci_lower, lift_ci_upper, p_value, revenue_lift_per_customer "
            "from marts.segment_lift order by as_of_date desc, segment_family, segment_name, period_number",
        )
        blocks.append(Chart("lift", lift_chart(lift)))
        blocks.append(
            Table(
                [
                    "Segment (export)",
                    "Period",
                    "Exported",
                    "Holdout",
                    "Conversion exported",
                    "Conversion holdout",
                    "Lift",
                    "Lower",
                    "Upper",
                    "p-value",
                    "Revenue lift per customer",
                ],
                [list(row.values()) for row in lift],
                {
                    "Conversion exported": ".1%",
                    "Conversion holdout": ".1%",
                    "Lift": "+.1%",
                    "Lower": "+.1%",
                    "Upper": "+.1%",
                    "p-value": ".3f",
                    "Revenue lift per customer": "+,.2f",
                },
            )
        )
    else:
        blocks.append(
            Note(absent_note(source, "segment_lift", "no complete period after an export yet, so no lift to show"))
        )
    if has_rows(source, "segment_holdouts"):
        as_of = latest_date(source, "segment_holdouts")
        holdouts = rows(
            source.connection,
            "select segment_family, segment_name, bool_or(is_segment_exported), max(eligible_customers), count(*), "
            "max(holdout_share) from marts.segment_holdouts where as_of_date = ? group by all order by all",
            [as_of],
        )
        blocks.append(Note(f"Holdout groups on {as_of}: marketable members never exported, the control groups."))
        blocks.append(
            Table(
                ["Family", "Segment", "Exported", "Eligible customers", "Held out", "Holdout share"],
                [list(row) for row in holdouts],
                {"Holdout share": ".0%"},
            )
        )
    else:
        blocks.append(Note(absent_note(source, "segment_holdouts", "no holdout groups to show")))
    return Section(
        title,
        blocks,
        "For each exported segment, the conversion (a qualifying order in the period) of the exported customers "
        "against the holdout group that was never exported; the interval is the confidence interval of the lift.",
    )


SECTIONS = (
    sizes_section,
    rfm_section,
    transitions_section,
    drift_section,
    distributions_section,
    clusters_section,
    predictions_section,
    lift_section,
)


def render(source: Published) -> str:
    """The whole page."""
    from segments.report_html import page

    customers = rows(
        source.connection,
        "select count(*) from marts.customer_segments where as_of_date = ?",
        [source.latest_as_of_date],
    )[0][0]
    dates = rows(source.connection, "select count(distinct as_of_date) from marts.segment_memberships")[0][0]
    facts = [
        ("As of", source.latest_as_of_date.isoformat()),
        ("Customers", f"{customers:,}"),
        ("As-of dates in the history", f"{dates:,}"),
        ("Published", f"{source.published_at:%Y-%m-%d %H:%M} UTC" if source.published_at else "unknown"),
    ]
    if source.current_as_of_date != source.latest_as_of_date:
        facts.insert(1, ("Customer features as of", source.current_as_of_date.isoformat()))
    return page("Customer segment report", [section(source) for section in SECTIONS], facts)


def write_atomically(out: Path, text: str) -> None:
    """Write text to out through a temporary file in its folder, renamed over it."""
    from segments.audit import one_line

    if out.is_dir():
        raise CommandError(f"the report path {out} is a directory, not a file")
    if not out.parent.is_dir():
        raise CommandError(f"the folder of the report {out.parent} does not exist")
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, out)
    except OSError as error:
        raise CommandError(f"cannot write the report {out}: {one_line(error)}") from error
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def report(published: Path, out: Path) -> int:
    """Render the report of the published file into out; return its size in bytes."""
    if out.resolve() == published.resolve():
        raise CommandError(f"the report path {out} is the published file: choose another --out")
    source = open_published(published)
    try:
        text = render(source)
    finally:
        source.connection.close()
    write_atomically(out, text)
    return len(text.encode("utf-8"))


def run(args: argparse.Namespace) -> int:
    published = resolve_published(args.published, resolve_database(args.database))
    out = args.out if args.out is not None else published.with_name(DEFAULT_REPORT_NAME)
    size = report(published, out)
    print(f"wrote the segment report of {published} to {out} ({size / 1024:,.0f} KiB)")
    return 0
