from django.contrib.admin.views.decorators import staff_member_required

#: Every dashboard page is for merchant staff only; others are sent to the login page.
staff_required = staff_member_required(login_url="admin:login")
