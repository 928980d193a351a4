{#-
    The behavioural segments: name, display label, what the segment means for a marketer,
    the customer_segments flag column, the rule in words and the vars it reads.
    segment_memberships and segment_catalog both iterate this list; the rules themselves
    are written once, in customer_segments.sql.
-#}
{% macro behavioural_segments() -%}
    {{ return([
        {'name': 'high_spenders', 'label': 'High spenders',
         'description': 'Customers whose recent orders are large: a high average basket over the last months. Suited to premium ranges, bundles and upsell.',
         'flag': 'is_high_spender',
         'rule': 'Average qualifying order value above high_spender_min_avg_order_value over the last high_spender_window_days days (compared unrounded: spend above the threshold times the orders).',
         'vars': ['high_spender_min_avg_order_value', 'high_spender_window_days']},
        {'name': 'recent_buyers', 'label': 'Recent buyers',
         'description': 'Bought in the last weeks. Suited to cross-sell, reviews and referral asks; no discount needed to bring them back.',
         'flag': 'is_recent_buyer',
         'rule': 'At least one qualifying order in the last recent_buyer_window_days days.',
         'vars': ['recent_buyer_window_days']},
        {'name': 'high_value_engaged', 'label': 'High-value engaged',
         'description': 'Order often, browse products and open most emails: the most engaged valuable customers. Suited to loyalty perks, early access and ambassador programmes.',
         'flag': 'is_high_value_engaged',
         'rule': 'More than high_value_engaged_min_orders qualifying orders in high_value_engaged_order_window_days days, more than high_value_engaged_min_product_views product views in high_value_engaged_product_view_window_days days, and an email open rate (opens over delivered emails in the last rate_window_days days) above high_value_engaged_min_open_rate.',
         'vars': ['high_value_engaged_min_orders', 'high_value_engaged_order_window_days', 'high_value_engaged_min_product_views', 'high_value_engaged_product_view_window_days', 'high_value_engaged_min_open_rate', 'rate_window_days']},
        {'name': 'premium_shoppers', 'label': 'Premium shoppers',
         'description': 'Spent a lot this month and are still browsing products: ready for premium and new collections.',
         'flag': 'is_premium_shopper',
         'rule': 'More than premium_min_spend spent in premium_spend_window_days days and at least premium_min_product_views product views in premium_product_view_window_days days.',
         'vars': ['premium_min_spend', 'premium_spend_window_days', 'premium_min_product_views', 'premium_product_view_window_days']},
        {'name': 'highly_engaged', 'label': 'Highly engaged',
         'description': 'Spend the longest time on the website (top share of visitors by average session). Suited to content, launches and product education.',
         'flag': 'is_highly_engaged',
         'rule': 'Average web session duration (sessions started in the last session_duration_window_days days) in the top highly_engaged_top_share of customers with sessions: fewer than that share of them have a strictly longer average. Customers tied at the boundary all qualify, so the segment can exceed that share.',
         'vars': ['highly_engaged_top_share', 'session_duration_window_days']},
        {'name': 'cart_abandoners', 'label': 'Cart abandoners',
         'description': 'Put items in the cart recently and have not bought since: send a cart reminder, perhaps with free shipping.',
         'flag': 'is_cart_abandoner',
         'rule': 'A cart abandoned (no purchase within cart_abandonment_hours of the last add-to-cart) in the last cart_abandoner_window_days days, and no purchase or qualifying order since.',
         'vars': ['cart_abandoner_window_days', 'cart_abandonment_hours']},
        {'name': 'at_risk_disengaging', 'label': 'At risk, disengaging',
         'description': 'Have not ordered for a while and hardly interact any more (few visits, opens or clicks): likely to leave. Try a reactivation offer or ask why.',
         'flag': 'is_disengaging',
         'rule': 'Last qualifying order more than disengaging_min_days_without_order days ago and an engagement score below disengaging_max_engagement_score.',
         'vars': ['disengaging_min_days_without_order', 'disengaging_max_engagement_score', 'engagement_half_life_days']},
        {'name': 'win_back', 'label': 'Win-back',
         'description': 'Valuable customers who stopped buying (RFM at_risk or cant_lose_them) but still look at products: a personal win-back offer may bring them back.',
         'flag': 'is_win_back',
         'rule': 'In an RFM segment listed in win_back_rfm_segments and at least one product view in the last win_back_product_view_window_days days.',
         'vars': ['win_back_rfm_segments', 'win_back_product_view_window_days']},
    ]) }}
{%- endmacro %}

{#-
    The named RFM segments of seed rfm_segment_map (R = recency, F = frequency, M = monetary
    scores, 1 to 5, higher is better): name (snake_case, the value in customer_segments and
    segment_memberships), display label and what the segment means for a marketer.
    segment_catalog fails its not_null test on description when the map names a segment
    missing here; prospects (no qualifying order, not in the map) is the last entry.
-#}
{% macro rfm_segments() -%}
    {{ return({
        'champions': {'label': 'Champions', 'description': 'Bought recently, buy often and spend the most (R 4 or 5, high F and M): reward them, ask for reviews, offer early access; no discount needed.'},
        'loyal_customers': {'label': 'Loyal Customers', 'description': 'Buy regularly and spend well, and bought fairly recently (R 4 with (F + M) / 2 from 3 to 4, or R 3 from 3.5): upsell, loyalty programme.'},
        'potential_loyalists': {'label': 'Potential Loyalists', 'description': 'Recent customers (R 4 or 5) with average frequency and spend who could become loyal: membership or a second-purchase offer.'},
        'new_customers': {'label': 'New Customers', 'description': 'Bought very recently (R 5) but rarely and little so far: onboarding and a welcome series.'},
        'promising': {'label': 'Promising', 'description': 'Recent buyers (R 4) with low frequency and spend so far: build the habit with recommendations.'},
        'need_attention': {'label': 'Need Attention', 'description': 'Middle recency (R 3) with average frequency and spend, slipping without a nudge: a limited-time offer.'},
        'about_to_sleep': {'label': 'About to Sleep', 'description': 'Middle recency (R 3) with low frequency and spend, lost soon without reactivation: share popular products, a small incentive.'},
        'at_risk': {'label': 'At Risk', 'description': 'Bought often and spent well, but not recently (R 1 or 2): personal reactivation before they are gone.'},
        'cant_lose_them': {'label': "Can't Lose Them", 'description': 'Among the most frequent and highest-spending customers, but no purchase for a long time (R 1 or 2): win them back personally, whatever it takes.'},
        'hibernating': {'label': 'Hibernating', 'description': 'Last purchase long ago (R 1 or 2) with low frequency and spend: low-cost reminders only.'},
        'lost': {'label': 'Lost', 'description': 'Lowest recency, frequency and spend (R 1): leave out of paid campaigns, or try one last win-back.'},
        'prospects': {'label': 'Prospects', 'description': 'Known (an account, an email or a phone) but no qualifying order yet: convert with a first-purchase offer.'},
    }) }}
{%- endmacro %}

{#-
    The lifecycle stages (customer_recency.lifecycle_stage): name, display label, what the
    stage means for a marketer, and the rule in words (vars lifecycle_*_days).
-#}
{% macro lifecycle_stages() -%}
    {{ return([
        {'name': 'prospect', 'label': 'Prospect', 'description': 'Known but never bought: convert with a first-purchase offer.', 'rule': 'No qualifying order by the as-of date.'},
        {'name': 'new', 'label': 'New', 'description': 'Made a first purchase recently: welcome series and a reason to come back.', 'rule': 'First qualifying order less than lifecycle_new_days days ago.'},
        {'name': 'active', 'label': 'Active', 'description': 'Buying regularly: keep them engaged, cross-sell.', 'rule': 'Not new; last qualifying order less than lifecycle_active_days days ago.'},
        {'name': 'dormant', 'label': 'Dormant', 'description': 'No order for a few months: a reminder or a small incentive.', 'rule': 'Last qualifying order less than lifecycle_dormant_days days ago.'},
        {'name': 'lapsed', 'label': 'Lapsed', 'description': 'No order for many months: a reactivation campaign.', 'rule': 'Last qualifying order less than lifecycle_lapsed_days days ago.'},
        {'name': 'churned', 'label': 'Churned', 'description': 'No order for over a year: low-cost win-back, or leave out of paid campaigns.', 'rule': 'Last qualifying order lifecycle_lapsed_days or more days ago.'},
    ]) }}
{%- endmacro %}

{#-
    Every segment of every family, one select (a union): segment_family, segment_name,
    segment_label, description, rule_in_words and vars_used ("name = value" with the values
    this build compiles with). segment_map is the import CTE holding seed rfm_segment_map.
    segment_catalog (current) and segment_catalog_history (per as-of date) both select it.
-#}
{% macro segment_catalog_rows(segment_map) -%}
    {%- set rfm = rfm_segments() -%}
    {%- set lifecycle_vars = [
        'lifecycle_new_days', 'lifecycle_active_days', 'lifecycle_dormant_days',
        'lifecycle_lapsed_days',
    ] -%}
    select
        'rfm' as segment_family,
        rfm_rules.segment_name,
        rfm_labels.segment_label,
        rfm_labels.description,
        rfm_rules.rule_in_words,
        {{ sql_string(describe_vars(['rfm_score_cutoffs'])) }} as vars_used
    from (
        select
            rfm_segment as segment_name,
            {{ ordered_string_agg(
                "'R = ' || r_score || ' and (F + M) / 2 from ' || fm_score_min || ' to ' || fm_score_max",
                "'; '",
                ['-r_score', 'fm_score_min'],
            ) }} as rule_in_words
        from {{ segment_map }}
        group by rfm_segment
    ) as rfm_rules
    left join (
        values
        {%- for name, segment in rfm.items() if name != 'prospects' %}
            ({{ sql_string(name) }}, {{ sql_string(segment.label) }}, {{ sql_string(segment.description) }})
            {{- ',' if not loop.last }}
        {%- endfor %}
    ) as rfm_labels (segment_name, segment_label, description)
        on rfm_rules.segment_name = rfm_labels.segment_name
    union all
    select
        'rfm' as segment_family,
        'prospects' as segment_name,
        {{ sql_string(rfm.prospects.label) }} as segment_label,
        {{ sql_string(rfm.prospects.description) }} as description,
        'Frequency is 0 as of the date: no qualifying order.' as rule_in_words,
        '' as vars_used
    {%- for segment in behavioural_segments() %}
    union all
    select
        'behavioural' as segment_family,
        {{ sql_string(segment.name) }} as segment_name,
        {{ sql_string(segment.label) }} as segment_label,
        {{ sql_string(segment.description) }} as description,
        {{ sql_string(segment.rule) }} as rule_in_words,
        {{ sql_string(describe_vars(segment.vars)) }} as vars_used
    {%- endfor %}
    {%- for stage in lifecycle_stages() %}
    union all
    select
        'lifecycle' as segment_family,
        {{ sql_string(stage.name) }} as segment_name,
        {{ sql_string(stage.label) }} as segment_label,
        {{ sql_string(stage.description) }} as description,
        {{ sql_string(stage.rule) }} as rule_in_words,
        {{ sql_string(describe_vars(lifecycle_vars)) }} as vars_used
    {%- endfor %}
{%- endmacro %}

{#- A Jinja string as a SQL string literal (single quotes doubled). Dispatched: in Spark's
    literals a backslash escapes the next character, so it is doubled too. -#}
{% macro sql_string(text) -%}
    {{ return(adapter.dispatch('sql_string', 'segments_warehouse')(text | string)) }}
{%- endmacro %}

{% macro default__sql_string(text) -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__sql_string(text) -%}
    '{{ text | replace("\\", "\\\\") | replace("'", "''") }}'
{%- endmacro %}

{#- "name = value" for each var, for the catalog. -#}
{% macro describe_vars(var_names) -%}
    {%- set described = [] -%}
    {%- for name in var_names -%}
        {%- do described.append(name ~ ' = ' ~ var(name)) -%}
    {%- endfor -%}
    {{ return(described | join('; ')) }}
{%- endmacro %}

{#-
    The predictive families' fixed segments (customer_predictions: clv_band, churn_risk, and
    the cluster family's not_scored): name, display label, what it means for a marketer, the
    rule in words and the vars it reads. The discovered clusters are described from their
    profile by cluster_catalog_rows().
-#}
{% macro predictive_segments() -%}
    {%- set clv_vars = ['clv_high_share', 'clv_medium_share', 'predictive_horizon_days'] -%}
    {%- set churn_vars = ['churn_high_threshold', 'churn_medium_threshold', 'predictive_horizon_days'] -%}
    {%- set not_scored = 'No qualifying order by the as-of date, or the model was not fitted at that date (too little or degenerate data: model_metrics, statistic_kind status, says why).' -%}
    {{ return([
        {'family': 'clv_band', 'name': 'high', 'label': 'High predicted value',
         'description': 'Expected to spend the most over the coming months (top predicted lifetime value): protect and grow them with loyalty perks and premium offers; do not discount.',
         'rule': 'Predicted CLV over the next predictive_horizon_days days in the top clv_high_share of scored buyers (BG/NBD expected purchases times Gamma-Gamma expected order value).',
         'vars': clv_vars},
        {'family': 'clv_band', 'name': 'medium', 'label': 'Medium predicted value',
         'description': 'Expected to keep buying at a moderate level: cross-sell and recommendations can move them up.',
         'rule': 'Predicted CLV in the next clv_medium_share of scored buyers below the high band.',
         'vars': clv_vars},
        {'family': 'clv_band', 'name': 'low', 'label': 'Low predicted value',
         'description': 'Little spend expected over the coming months: low-cost channels only, or a reactivation test.',
         'rule': 'Predicted CLV below the medium band.',
         'vars': clv_vars},
        {'family': 'clv_band', 'name': 'not_scored', 'label': 'Value not scored',
         'description': 'No lifetime value predicted: never bought, or too little history to fit the model. Use the rule-based segments instead.',
         'rule': not_scored, 'vars': ['predictive_min_fit_customers']},
        {'family': 'churn_risk', 'name': 'high', 'label': 'High churn risk',
         'description': 'Likely to place no order over the coming months: act now with a reactivation offer, weighed against their predicted value.',
         'rule': 'Probability of no qualifying order in the next predictive_horizon_days days at or above churn_high_threshold (logistic regression trained as of the date minus the horizon).',
         'vars': churn_vars},
        {'family': 'churn_risk', 'name': 'medium', 'label': 'Medium churn risk',
         'description': 'May drift away: a reminder, recommendations or a small incentive.',
         'rule': 'Churn probability at or above churn_medium_threshold and below churn_high_threshold.',
         'vars': churn_vars},
        {'family': 'churn_risk', 'name': 'low', 'label': 'Low churn risk',
         'description': 'Expected to keep ordering: no retention spend needed.',
         'rule': 'Churn probability below churn_medium_threshold.',
         'vars': churn_vars},
        {'family': 'churn_risk', 'name': 'not_scored', 'label': 'Churn risk not scored',
         'description': 'No churn risk scored: never bought, or too little history to train the model. Use recency-based segments instead.',
         'rule': not_scored, 'vars': ['predictive_min_fit_customers']},
        {'family': 'cluster', 'name': 'not_scored', 'label': 'Not clustered',
         'description': 'Not placed in a discovered archetype: never bought, or too few customers to cluster.',
         'rule': not_scored, 'vars': ['predictive_min_fit_customers']},
    ]) }}
{%- endmacro %}

{#-
    The predictive families' catalog rows (segment_family, segment_name, segment_label,
    description, rule_in_words, vars_used): the fixed rows of predictive_segments() and one row
    per cluster of cluster_profiles (the import CTE named by the argument; one row per
    cluster_name). A cluster's name is read word by word (recency, frequency, spend, then
    engaged or unengaged, then a number for a repeated name: macro centroid_name in
    src/segments/predictive/clusters.py) into its label and marketer description; its rule is
    its centroid in original units.
-#}
{% macro predictive_catalog_rows(cluster_profiles) -%}
    {%- set phrases = {
        'recent': ['Recent', 'bought recently'],
        'cooling': ['Cooling', 'last bought a while ago'],
        'lapsed': ['Lapsed', 'have not bought for a long time'],
        'frequent': ['frequent', 'order often'],
        'regular': ['regular', 'order at an average rate'],
        'infrequent': ['infrequent', 'order rarely'],
        'high': ['high spend', 'spend the most'],
        'mid': ['mid spend', 'spend about the average'],
        'low': ['low spend', 'spend little'],
        'engaged': ['engaged', 'interact a lot (visits, opens, clicks)'],
        'unengaged': ['unengaged', 'hardly interact'],
    } -%}
    {%- set advice = {
        'recent': 'Keep them buying: cross-sell, loyalty perks and referrals.',
        'cooling': 'Nudge them before they lapse: reminders and recommendations.',
        'lapsed': 'Try a win-back offer, or leave them out of paid campaigns.',
    } -%}
    {%- set cluster_vars = ['cluster_k_min', 'cluster_k_max', 'min_segment_share'] -%}
    {%- for segment in predictive_segments() %}
    {{ 'union all' if not loop.first }}
    select
        {{ sql_string(segment.family) }} as segment_family,
        {{ sql_string(segment.name) }} as segment_name,
        {{ sql_string(segment.label) }} as segment_label,
        {{ sql_string(segment.description) }} as description,
        {{ sql_string(segment.rule) }} as rule_in_words,
        {{ sql_string(describe_vars(segment.vars)) }} as vars_used
    {%- endfor %}
    union all
    select
        'cluster' as segment_family,
        cluster_words.cluster_name as segment_name,
        {{ word_case('cluster_words.recency_word', phrases, 0) }}
        || ', ' || {{ word_case('cluster_words.frequency_word', phrases, 0) }}
        || ', ' || {{ word_case('cluster_words.spend_word', phrases, 0) }}
        || coalesce(', ' || {{ word_case('cluster_words.engagement_word', phrases, 0) }}, '')
        || coalesce(' (' || cluster_words.repeat_number || ')', '') as segment_label,
        'A discovered archetype (k-means): customers who '
        || {{ word_case('cluster_words.recency_word', phrases, 1) }}
        || ', ' || {{ word_case('cluster_words.frequency_word', phrases, 1) }}
        || coalesce(', ' || {{ word_case('cluster_words.engagement_word', phrases, 1) }}, '')
        || ' and ' || {{ word_case('cluster_words.spend_word', phrases, 1) }} || '. '
        || {{ word_case('cluster_words.recency_word', advice, none) }}
        || coalesce(
            ' One of several clusters alike in these words (number '
            || cluster_words.repeat_number || '): their centroids (rule_in_words) tell them apart.',
            ''
        ) as description,
        'Nearest centroid of the k-means fit of the as-of date; centroid ('
        || cast(cluster_words.as_of_date as string) || '): recency '
        || cast(round(cluster_words.centroid_recency_days) as string) || ' days, frequency '
        || cast(round(cluster_words.centroid_frequency, 1) as string) || ', monetary '
        || cast(round(cluster_words.centroid_monetary, 2) as string) || ', average order value '
        || cast(round(cluster_words.centroid_avg_order_value, 2) as string)
        || ', engagement score '
        || cast(round(cluster_words.centroid_engagement_score, 1) as string)
        || '.' as rule_in_words,
        {{ sql_string(describe_vars(cluster_vars)) }} as vars_used
    from (
        select
            *,
            split_part(cluster_name, '_', 1) as recency_word,
            split_part(cluster_name, '_', 2) as frequency_word,
            split_part(cluster_name, '_', 3) as spend_word,
            case
                when split_part(cluster_name, '_', 5) in ('engaged', 'unengaged')
                    then split_part(cluster_name, '_', 5)
            end as engagement_word,
            case
                when split_part(cluster_name, '_', 5) in ('engaged', 'unengaged')
                    then nullif(split_part(cluster_name, '_', 6), '')
                else nullif(split_part(cluster_name, '_', 5), '')
            end as repeat_number
        from {{ cluster_profiles }}
    ) as cluster_words
{%- endmacro %}

{#- A case over a word column: the phrase at position (or the text itself) of each word. -#}
{% macro word_case(column, phrases, position) -%}
    case {{ column }}
        {%- for word, phrase in phrases.items() %}
        when {{ sql_string(word) }} then {{ sql_string(phrase if position is none else phrase[position]) }}
        {%- endfor %}
    end
{%- endmacro %}
