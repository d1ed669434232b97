"""Thin views, one module per page: parse, call a service or a selector, render. Every object is
looked up from the logged-in customer, so another customer's subscription or invoice is a 404."""
