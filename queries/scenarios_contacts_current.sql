-- One row per customer with a contact: its latest one.
select
    customer_id,
    contact_name,
    email,
    postal_address,
    user_name,
    recorded_at,
from customer_contacts
qualify row_number() over (partition by customer_id order by recorded_at desc) = 1
order by customer_id
