{#-
    The behavioural segments: name, the customer_segments flag column, the rule in words
    and the vars it reads. segment_memberships and segment_catalog both iterate this list;
    the rules themselves are written once, in customer_segments.sql.
-#}
{% macro behavioural_segments() -%}
    {{ return([
        {'name': 'high_spenders', 'flag': 'is_high_spender',
         'rule': 'Average qualifying order value above high_spender_min_avg_order_value over the last high_spender_window_days days (compared unrounded: spend above the threshold times the orders).',
         'vars': ['high_spender_min_avg_order_value', 'high_spender_window_days']},
        {'name': 'recent_buyers', 'flag': 'is_recent_buyer',
         'rule': 'At least one qualifying order in the last recent_buyer_window_days days.',
         'vars': ['recent_buyer_window_days']},
        {'name': 'high_value_engaged', 'flag': 'is_high_value_engaged',
         'rule': 'More than high_value_engaged_min_orders qualifying orders in high_value_engaged_order_window_days days, more than high_value_engaged_min_product_views product views in high_value_engaged_product_view_window_days days, and an email open rate (opens over delivered emails in the last rate_window_days days) above high_value_engaged_min_open_rate.',
         'vars': ['high_value_engaged_min_orders', 'high_value_engaged_order_window_days', 'high_value_engaged_min_product_views', 'high_value_engaged_product_view_window_days', 'high_value_engaged_min_open_rate', 'rate_window_days']},
        {'name': 'premium_shoppers', 'flag': 'is_premium_shopper',
         'rule': 'More than premium_min_spend spent in premium_spend_window_days days and at least premium_min_product_views product views in premium_product_view_window_days days.',
         'vars': ['premium_min_spend', 'premium_spend_window_days', 'premium_min_product_views', 'premium_product_view_window_days']},
        {'name': 'highly_engaged', 'flag': 'is_highly_engaged',
         'rule': 'Average web session duration (sessions started in the last session_duration_window_days days) in the top highly_engaged_top_share of customers with sessions: fewer than that share of them have a strictly longer average. Customers tied at the boundary all qualify, so the segment can exceed that share.',
         'vars': ['highly_engaged_top_share', 'session_duration_window_days']},
        {'name': 'cart_abandoners', 'flag': 'is_cart_abandoner',
         'rule': 'A cart abandoned (no purchase within cart_abandonment_hours of the last add-to-cart) in the last cart_abandoner_window_days days, and no purchase or qualifying order since.',
         'vars': ['cart_abandoner_window_days', 'cart_abandonment_hours']},
        {'name': 'at_risk_disengaging', 'flag': 'is_disengaging',
         'rule': 'Last qualifying order more than disengaging_min_days_without_order days ago and an engagement score below disengaging_max_engagement_score.',
         'vars': ['disengaging_min_days_without_order', 'disengaging_max_engagement_score', 'engagement_half_life_days']},
        {'name': 'win_back', 'flag': 'is_win_back',
         'rule': 'In an RFM segment listed in win_back_rfm_segments and at least one product view in the last win_back_product_view_window_days days.',
         'vars': ['win_back_rfm_segments', 'win_back_product_view_window_days']},
    ]) }}
{%- endmacro %}

{#-
    One description per named RFM segment of seed rfm_segment_map (R = recency, F =
    frequency, M = monetary scores, 1 to 5, higher is better). segment_catalog fails its
    not_null test on description when the map names a segment missing here.
-#}
{% macro rfm_segment_descriptions() -%}
    {{ return({
        'Champions': 'Bought recently, buy often and spend the most (R 4 or 5, high F and M).',
        'Loyal Customers': 'Buy regularly and spend well, and bought fairly recently (R 4 with (F + M) / 2 from 3 to 4, or R 3 from 3.5).',
        'Potential Loyalists': 'Recent customers (R 4 or 5) with average frequency and spend who could become loyal.',
        'New Customers': 'Bought very recently (R 5) but rarely and little so far.',
        'Promising': 'Recent buyers (R 4) with low frequency and spend so far.',
        'Need Attention': 'Middle recency (R 3) with average frequency and spend: slipping without a nudge.',
        'About to Sleep': 'Middle recency (R 3) with low frequency and spend: lost soon without reactivation.',
        'At Risk': 'Bought often and spent well, but not recently (R 1 or 2).',
        "Can't Lose Them": 'Among the most frequent and highest-spending customers, but no purchase for a long time (R 1 or 2).',
        'Hibernating': 'Last purchase long ago (R 1 or 2) with low frequency and spend.',
        'Lost': 'Lowest recency, frequency and spend (R 1).',
    }) }}
{%- endmacro %}

{#- A Jinja string as a SQL string literal (single quotes doubled). -#}
{% macro sql_string(text) -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}

{#- "name = value" for each var, for the catalog. -#}
{% macro describe_vars(var_names) -%}
    {%- set described = [] -%}
    {%- for name in var_names -%}
        {%- do described.append(name ~ ' = ' ~ var(name)) -%}
    {%- endfor -%}
    {{ return(described | join('; ')) }}
{%- endmacro %}
