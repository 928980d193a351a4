{#-
    Generic test: every row satisfies a SQL boolean expression.
    Fails with the rows for which the expression is false or null. Declared on a
    column or on the model; the expression names the columns it needs either way.

    data_tests:
      - expression_is_true:
          arguments:
            expression: "raw_rows = staged_rows + quarantined_rows + duplicate_rows"
-#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
