{#-
    Generic test: a combination of columns is unique (a compound primary key).
    Fails with each duplicated combination and how often it occurs.

    data_tests:
      - unique_combination_of_columns:
          arguments:
            combination_of_columns: [customer_key, as_of_date]
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
