"""The portal's routes plus ``/bench/insert/``: a minimal Django view doing one INSERT."""

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from itsm.urls import urlpatterns as portal


@csrf_exempt
def insert(request):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_insert (body) VALUES (%s)", [request.body.decode()])
    return JsonResponse({"status": "ok"}, status=202)


urlpatterns = [path("bench/insert/", insert), *portal]
