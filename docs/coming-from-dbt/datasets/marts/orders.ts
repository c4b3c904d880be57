// datasets/marts/orders.ts
import { dataset, notNull } from 'ingot';

const methods = ['credit_card', 'coupon', 'bank_transfer', 'gift_card'];

export default dataset({
  name: 'marts.orders',
  description: 'One row per order, its amount split by payment method',
  sql: `
    SELECT o.order_id, o.customer_id, o.order_date, o.status,
      ${methods.map((m) => `sum(CASE WHEN p.payment_method = '${m}' THEN p.amount ELSE 0 END) AS ${m}_amount`).join(',\n      ')},
      sum(p.amount) AS amount
    FROM staging.orders AS o
    LEFT JOIN staging.payments AS p ON p.order_id = o.order_id
    GROUP BY o.order_id, o.customer_id, o.order_date, o.status`,
  expectations: [notNull('amount', { action: 'warn' })],
});
