"""What every views module answers alike: JSON or a page, the owner's objects, byte ranges.

Both views modules (recordings, library) used to carry their own copies.
"""
from __future__ import annotations

import re
from typing import Callable, Iterator

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404


def wants_json(request) -> bool:
    """Success answers: JSON when asked for (the recorder, fetch); forms get a redirect."""
    return "application/json" in request.headers.get("Accept", "")


def own_recording(request, pk: int, queryset=None):
    """The user's recording ``pk``; another user's is a 404 like a missing one."""
    from .recordings.models import Recording

    return get_object_or_404(Recording if queryset is None else queryset, pk=pk, owner=request.user)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The one byte range ``header`` asks for as (first, last), inclusive; ``None``: send it all.

    Raises ``ValueError`` for a range that lies past the end (answer 416). Only
    one range is served: a header naming several (``bytes=0-1,5-9``) gets the
    whole file, as RFC 9110 allows; so does a header that does not parse.
    """
    match = _RANGE.match(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise ValueError("range not satisfiable")
    return start, end


def ranged_response(request, size: int, read: Callable[[int, int], Iterator[bytes]], *,
                    content_type: str, filename: str) -> HttpResponse:
    """Stream ``size`` bytes, or the range the request asks for (206), never all in memory.

    ``read(first, last)`` yields the bytes from ``first`` to ``last`` inclusive.
    Players seek with ``Range`` requests; ``Accept-Ranges`` tells them they may.
    """
    try:
        wanted = parse_range(request.headers.get("Range", ""), size) if size else None
    except ValueError:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = wanted if wanted is not None else (0, size - 1)
    if request.method == "HEAD" or size == 0:
        body: Iterator[bytes] = iter(())
    else:
        body = read(first, last)
    response = StreamingHttpResponse(body, content_type=content_type, status=206 if wanted else 200)
    response["Content-Length"] = str(last - first + 1 if size else 0)
    response["Accept-Ranges"] = "bytes"
    if wanted:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
