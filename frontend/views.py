from django.http import HttpResponse


def home(request):
    return HttpResponse("Trenchcoat")


def join(request, token):
    return HttpResponse("join")
