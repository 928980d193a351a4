{#-
    The behavioural segments: name, the customer_segments flag column, the rule in words
    and the vars it reads. segment_memberships and segment_catalog both iterate this list;
    the rules themselves are written once, in customer_segments.sql.
-#}
{% macro behavioural_segments() -%}
    {{ return([
        {'name': 'high_spenders', 'flag': 'is_high_spender',
         'rule': 'Average qualifying order value above high_spender_min_avg_order_value over the last high_spender_window_days days.',
         'vars': ['high_spender_min_avg_order_value', 'high_spender_window_days']},
        {'name': 'recent_buyers', 'flag': 'is_recent_buyer',
         'rule': 'At least one qualifying order in the last recent_buyer_window_days days.',
         'vars': ['recent_buyer_window_days']},
        {'name': 'high_value_engaged', 'flag': 'is_high_value_engaged',
         'rule': 'More than high_value_engaged_min_orders qualifying orders in high_value_engaged_order_window_days days, more than high_value_engaged_min_product_views product views in high_value_engaged_product_view_window_days days, and an email open rate above high_value_engaged_min_open_rate.',
         'vars': ['high_value_engaged_min_orders', 'high_value_engaged_order_window_days', 'high_value_engaged_min_product_views', 'high_value_engaged_product_view_window_days', 'high_value_engaged_min_open_rate']},
        {'name': 'premium_shoppers', 'flag': 'is_premium_shopper',
         'rule': 'More than premium_min_spend spent in premium_spend_window_days days and at least premium_min_product_views product views in premium_product_view_window_days days.',
         'vars': ['premium_min_spend', 'premium_spend_window_days', 'premium_min_product_views', 'premium_product_view_window_days']},
        {'name': 'highly_engaged', 'flag': 'is_highly_engaged',
         'rule': 'Average web session duration in the top highly_engaged_top_share of customers with sessions (at least that share of them have a strictly shorter average).',
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

{#- "name = value" for each var, for the catalog. -#}
{% macro describe_vars(var_names) -%}
    {%- set described = [] -%}
    {%- for name in var_names -%}
        {%- do described.append(name ~ ' = ' ~ var(name)) -%}
    {%- endfor -%}
    {{ return(described | join('; ')) }}
{%- endmacro %}
