"""Merchant pages of the chatbot app (staff only), under /dashboard/chat/."""
