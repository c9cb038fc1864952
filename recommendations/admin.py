from django.contrib import admin

from recommendations.models import CustomerRecommendation, RecommenderEvaluation, SimilarProduct


@admin.register(CustomerRecommendation)
class CustomerRecommendationAdmin(admin.ModelAdmin):
    list_display = [
        "model_version",
        "recommender",
        "customer",
        "rank",
        "product",
        "score",
        "reason",
    ]
    list_filter = ["model_version", "recommender"]
    raw_id_fields = ["customer", "product", "reason_product"]


@admin.register(SimilarProduct)
class SimilarProductAdmin(admin.ModelAdmin):
    list_display = ["model_version", "product", "rank", "similar_product", "score", "source"]
    list_filter = ["model_version", "source"]
    raw_id_fields = ["product", "similar_product"]


@admin.register(RecommenderEvaluation)
class RecommenderEvaluationAdmin(admin.ModelAdmin):
    list_display = ["model_version", "recommender", "split", "k", "ndcg", "precision", "recall"]
    list_filter = ["model_version", "split"]
