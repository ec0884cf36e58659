"""The Vietnamese of the gateway's problem details (see :mod:`gateway.core.i18n` for how it is used).

Keyed by problem type (its slug), then by the English text the gateway writes, with ``{name}`` where the gateway
fills in a value; the Vietnamese text puts the same placeholders back. A test walks every place the gateway raises
a problem and fails when a detail it writes is missing here, or a problem type lacks a title, a description or a
general detail.

Terms (as in the Project 06 documents): cổng kết nối (the gateway), trục kết nối tích hợp, chia sẻ dữ liệu quốc gia
(the national axis), hệ thống chuyên ngành / cơ sở dữ liệu chuyên ngành (sector system / database), ứng dụng khách
(an OAuth client), mã truy cập (an access token), phạm vi quyền (a scope), quyền khai thác (a grant), mã thủ tục
hành chính (the purpose, ``X-Purpose``), cán bộ thực hiện (the actor, ``X-Actor-Id``), nhật ký kiểm toán (the audit
trail), lượt gửi dữ liệu (a submission), biên nhận (a receipt), hợp đồng dữ liệu (a contract).
"""

from __future__ import annotations

TITLES: dict[str, str] = {
    "access-denied": "Không có quyền truy cập",
    "audit-unavailable": "Không ghi được nhật ký kiểm toán",
    "bad-header": "Thiếu hoặc sai trường tiêu đề (header)",
    "bad-request": "Yêu cầu không hợp lệ",
    "circuit-open": "Tạm ngừng gọi hệ thống chuyên ngành",
    "conflict": "Xung đột dữ liệu",
    "content-too-large": "Nội dung yêu cầu quá lớn",
    "unsupported-media-type": "Kiểu nội dung không được hỗ trợ",
    "contract-violation": "Dữ liệu không đúng hợp đồng dữ liệu",
    "deadline-exceeded": "Quá thời hạn xử lý yêu cầu",
    "exchange-queue-full": "Quá nhiều thao tác đang chờ chuyển tới hệ thống chuyên ngành",
    "exchange-unavailable": "Không lưu được lượt gửi dữ liệu",
    "header-fields-too-large": "Phần tiêu đề của yêu cầu quá lớn",
    "http-error": "Lỗi HTTP",
    "idempotency-key-reused": "Khóa chống trùng lặp (Idempotency-Key) đã được dùng",
    "insufficient-scope": "Không đủ phạm vi quyền",
    "internal-error": "Lỗi nội bộ",
    "invalid-cursor": "Con trỏ phân trang không hợp lệ",
    "invalid-token": "Mã truy cập không hợp lệ",
    "malformed-json": "JSON sai định dạng",
    "method-not-allowed": "Phương thức không được phép",
    "not-found": "Không tìm thấy",
    "not-ready": "Cổng kết nối chưa sẵn sàng",
    "oauth-error": "Lỗi cấp mã truy cập (OAuth)",
    "operation-not-supported": "Thao tác không được hỗ trợ",
    "quality-refused": "Bị từ chối vì chất lượng dữ liệu",
    "rate-limit-unavailable": "Không kiểm soát được giới hạn tần suất",
    "rate-limited": "Vượt quá giới hạn tần suất",
    "record-not-found": "Không tìm thấy hồ sơ",
    "request-timeout": "Hết thời gian chờ yêu cầu",
    "submission-rejected": "Lượt gửi dữ liệu bị từ chối",
    "too-many-failures": "Xác thực thất bại quá nhiều lần",
    "unknown-contract": "Không có hợp đồng dữ liệu này",
    "unsupported-query": "Truy vấn không được hỗ trợ",
    "upstream-error": "Lỗi từ hệ thống chuyên ngành",
    "upstream-timeout": "Hệ thống chuyên ngành không trả lời kịp",
    "upstream-refused": "Nền tảng tích hợp từ chối yêu cầu",
    "upstream-unavailable": "Hệ thống chuyên ngành không khả dụng",
    "validation-error": "Dữ liệu không hợp lệ",
}

#: What each problem type means: the ``description`` of its ``/problems`` page.
DESCRIPTIONS: dict[str, str] = {
    "access-denied": (
        "Không có quyền khai thác nào đang có hiệu lực cho phép thao tác này trên cơ sở dữ liệu này với mục đích "
        "này, hoặc yêu cầu dùng các trường mà quyền khai thác không bao gồm (với thao tác được gửi: ghi các trường "
        "đó, hoặc xóa hồ sơ khi không có quyền xóa)."
    ),
    "audit-unavailable": (
        "Không ghi được lượt trao đổi vào nhật ký kiểm toán nên câu trả lời đã bị giữ lại: không dữ liệu nào rời "
        "cổng kết nối mà không được ghi nhật ký. Vui lòng thử lại sau."
    ),
    "bad-header": (
        "Thiếu hoặc sai định dạng một trường tiêu đề mà quyền khai thác yêu cầu (X-Purpose: mã thủ tục hành chính, "
        "X-Actor-Id: mã cán bộ thực hiện); `header` cho biết trường nào."
    ),
    "bad-request": "Yêu cầu sai định dạng.",
    "circuit-open": (
        "Hệ thống chuyên ngành của cơ sở dữ liệu này liên tục gặp lỗi, nên cổng kết nối tạm thời từ chối ngay các "
        "yêu cầu tới nó (cơ chế ngắt mạch, circuit breaker) thay vì bắt người gọi chờ. Hãy thử lại sau số giây "
        "trong `Retry-After`."
    ),
    "conflict": "Yêu cầu xung đột với dữ liệu đã có, chẳng hạn mã ứng dụng khách đã được dùng.",
    "content-too-large": "Nội dung yêu cầu lớn hơn mức cổng kết nối chấp nhận; `max_bytes` cho biết giới hạn.",
    "unsupported-media-type": ("Nội dung yêu cầu không thuộc kiểu mà thao tác này nhận: JSON (application/json)."),
    "contract-violation": (
        "Hệ thống chuyên ngành trả về dữ liệu không đúng hợp đồng dữ liệu; dữ liệu đó không được chuyển tiếp."
    ),
    "deadline-exceeded": "Cổng kết nối không trả lời được trong thời hạn xử lý mỗi yêu cầu; việc xử lý đã bị hủy.",
    "exchange-queue-full": (
        "Lượt gửi dữ liệu này sẽ làm ứng dụng khách có nhiều thao tác đang chờ chuyển tới cơ sở dữ liệu này (đã "
        "tiếp nhận, chưa được lấy ra để chuyển) hơn mức tối đa cho một ứng dụng khách "
        "(`GATEWAY_EXCHANGE_CLIENT_QUEUE_MAX`), để hàng đợi của nó không làm các lượt gửi dữ liệu của ứng dụng "
        "khách khác phải chờ: `unfinished` là số thao tác của nó đang chờ, `limit` là giới hạn, `submitted` là số "
        "thao tác lượt gửi này muốn thêm. Không có dữ liệu nào được lưu. Hãy gửi lại đúng yêu cầu đó, với cùng "
        "`Idempotency-Key`, sau số giây trong `Retry-After`: khi hệ thống chuyên ngành nhận dần các thao tác trước "
        "(biên nhận của chúng cho biết), hàng đợi sẽ có chỗ."
    ),
    "exchange-unavailable": (
        "Cổng kết nối không hoàn tất được lượt gửi dữ liệu: cơ sở dữ liệu của cổng, nơi lưu các thao tác, biên "
        "nhận và nhật ký kiểm toán, gặp lỗi hoặc không kết nối được. Câu trả lời này không tiếp nhận thao tác nào. "
        "Hãy gửi lại đúng yêu cầu đó, với cùng `Idempotency-Key`, sau một lúc: mỗi thao tác chỉ được lưu tối đa "
        "một lần, và lần gửi lại của một lượt đã được lưu sẽ nhận được biên nhận của lượt đó."
    ),
    "header-fields-too-large": (
        "Phần đầu của yêu cầu (dòng yêu cầu và các trường tiêu đề) có nhiều dòng tiêu đề hoặc nhiều byte hơn mức "
        "cổng kết nối chấp nhận (`GATEWAY_MAX_HEADER_COUNT`, `GATEWAY_MAX_HEADER_BYTES`); kết nối bị đóng."
    ),
    "http-error": "Lỗi ở tầng HTTP không thuộc loại cụ thể hơn, chẳng hạn nội dung biểu mẫu (form) không đọc được.",
    "idempotency-key-reused": (
        "Ứng dụng khách này đã dùng `Idempotency-Key` này cho một yêu cầu khác tới cơ sở dữ liệu này; lần gửi lại "
        "phải mang đúng các thao tác cũ. Hãy dùng khóa mới cho lượt gửi dữ liệu mới."
    ),
    "insufficient-scope": "Mã truy cập hợp lệ nhưng không mang phạm vi quyền (scope) mà thao tác này cần.",
    "internal-error": "Cổng kết nối gặp lỗi; mã yêu cầu (X-Request-Id) giúp tìm sự việc trong nhật ký hệ thống.",
    "invalid-cursor": (
        "Con trỏ phân trang không do cổng kết nối này cấp cho lượt tìm kiếm này; hãy bắt đầu lại mà không gửi con trỏ."
    ),
    "invalid-token": (
        "Mã truy cập (bearer token) bị thiếu, sai định dạng, đã hết hạn, chưa đến thời điểm hiệu lực, hoặc không "
        "được ký bởi khóa tin cậy."
    ),
    "malformed-json": "Nội dung yêu cầu không phải là JSON hợp lệ.",
    "method-not-allowed": "Tài nguyên có tồn tại nhưng không chấp nhận phương thức này.",
    "not-found": "Không có tài nguyên nào tại địa chỉ này.",
    "not-ready": (
        "Cổng kết nối hiện chưa phục vụ được: không kết nối được kho dữ liệu mà nó cần (cơ sở dữ liệu của cổng, "
        "Redis khi bộ giới hạn tần suất được cấu hình từ chối khi lỗi), hoặc chưa nạp được bộ kết nối nào "
        "(`/readyz`: `checks` cho biết thành phần nào), hoặc không kết nối được cơ sở dữ liệu của cổng trong "
        "khi trả lời. Vui lòng thử lại sau."
    ),
    "oauth-error": (
        "Yêu cầu cấp mã truy cập bị từ chối; `error` mang mã lỗi OAuth 2.0 (401 với `invalid_client`, 400 với "
        "các mã khác)."
    ),
    "operation-not-supported": "Bộ kết nối (connector) của cơ sở dữ liệu này không hỗ trợ thao tác này.",
    "quality-refused": (
        "Một thao tác của lượt gửi dữ liệu vi phạm một quy tắc chất lượng dữ liệu mà cơ sở dữ liệu này từ chối (họ "
        "tên chưa chuẩn hóa, ngày mất trước ngày sinh...): `rule` và `field` nêu quy tắc và trường vi phạm đầu "
        "tiên, `findings` liệt kê từng thao tác, quy tắc, trường và vấn đề. Không có dữ liệu nào được lưu; hãy "
        "sửa hồ sơ rồi gửi lại."
    ),
    "rate-limit-unavailable": (
        "Không kết nối được kho đếm số yêu cầu của các ứng dụng khách, và cổng kết nối không phục vụ những yêu cầu "
        "mà nó không đếm được. Vui lòng thử lại sau."
    ),
    "rate-limited": (
        "Ứng dụng khách đã dùng hết số yêu cầu được phép trong lúc này (theo giây hoặc theo ngày). Hãy thử lại sau "
        "số giây trong `Retry-After`; các trường tiêu đề `RateLimit-*`, có trong mọi câu trả lời, mô tả giới "
        "hạn của ứng dụng khách."
    ),
    "record-not-found": "Cơ sở dữ liệu không có hồ sơ nào với khóa này.",
    "request-timeout": (
        "Các trường tiêu đề của yêu cầu không đến trong `GATEWAY_HEADER_READ_TIMEOUT_SECONDS` kể từ khi mở kết "
        "nối (hoặc từ byte đầu tiên của yêu cầu trên kết nối được giữ lại); kết nối bị đóng."
    ),
    "submission-rejected": (
        "Không thao tác nào của lượt gửi dữ liệu được chấp nhận; `rejected` nêu lỗi của từng thao tác (không đúng "
        "hợp đồng dữ liệu, ghi trường ngoài quyền khai thác...). Không có dữ liệu nào được lưu."
    ),
    "too-many-failures": (
        "Các yêu cầu cấp mã truy cập nhân danh ứng dụng khách này, hoặc từ địa chỉ này, đã thất bại quá nhiều lần "
        "trong mấy phút gần đây; chúng bị từ chối trước khi kiểm tra thông tin xác thực, cho tới khi hết số giây "
        "trong `Retry-After`. Thất bại của một ứng dụng khách không chặn các ứng dụng khách khác."
    ),
    "unknown-contract": "Không có hợp đồng dữ liệu (hoặc phiên bản hợp đồng dữ liệu) nào mang tên này.",
    "unsupported-query": "Cơ sở dữ liệu không thực hiện được tổ hợp trường tìm kiếm này.",
    "upstream-error": "Hệ thống chuyên ngành trả lời bằng một lỗi, hoặc bằng nội dung không hợp lệ.",
    "upstream-timeout": "Hệ thống chuyên ngành không trả lời trong thời hạn.",
    "upstream-refused": (
        "Nền tảng tích hợp, chia sẻ dữ liệu (trục quốc gia NDXP, LGSP của tỉnh) đã từ chối yêu cầu của cổng kết "
        "nối: không cấp hoặc không chấp nhận mã truy cập, hoặc từ chối thông tin yêu cầu (thiếu mã thủ tục hành "
        "chính, đơn vị, cán bộ thực hiện: hãy gửi `X-Purpose` và `X-Actor-Id`). Yêu cầu giống hệt sẽ tiếp tục "
        "bị từ chối cho đến khi kết nối hoặc yêu cầu thay đổi."
    ),
    "upstream-unavailable": ("Không kết nối được hệ thống chuyên ngành của cơ sở dữ liệu này. Vui lòng thử lại sau."),
    "validation-error": ("Yêu cầu đúng định dạng nhưng có giá trị không hợp lệ; `errors` liệt kê các giá trị đó."),
}

#: The detail answered for a detail the catalogue does not know (a connector's own message, say).
GENERIC_DETAILS: dict[str, str] = {
    "access-denied": "Quyền khai thác của bạn không cho phép thao tác này.",
    "audit-unavailable": "Hiện không ghi được nhật ký kiểm toán nên câu trả lời đã bị giữ lại. Vui lòng thử lại sau.",
    "bad-header": "Thiếu hoặc sai định dạng một trường tiêu đề bắt buộc.",
    "bad-request": "Yêu cầu sai định dạng.",
    "circuit-open": "Hệ thống chuyên ngành đang gặp sự cố; các yêu cầu tạm thời bị từ chối. Hãy thử lại sau.",
    "conflict": "Yêu cầu xung đột với dữ liệu đã có.",
    "content-too-large": "Nội dung yêu cầu lớn hơn mức cổng kết nối chấp nhận.",
    "unsupported-media-type": "Nội dung yêu cầu phải là JSON (Content-Type: application/json).",
    "contract-violation": "Hệ thống chuyên ngành trả về dữ liệu không đúng hợp đồng dữ liệu.",
    "deadline-exceeded": "Không có câu trả lời trong thời hạn xử lý; yêu cầu đã bị hủy.",
    "exchange-queue-full": (
        "Ứng dụng khách có quá nhiều thao tác đang chờ chuyển tới hệ thống chuyên ngành; không có dữ liệu nào được "
        "lưu. Hãy gửi lại sau."
    ),
    "exchange-unavailable": "Không hoàn tất được lượt gửi dữ liệu. Hãy gửi lại với cùng khóa Idempotency-Key.",
    "header-fields-too-large": "Phần tiêu đề của yêu cầu lớn hơn mức cổng kết nối chấp nhận.",
    "http-error": "Yêu cầu HTTP không được chấp nhận.",
    "idempotency-key-reused": "Khóa Idempotency-Key này đã được dùng cho một yêu cầu khác.",
    "insufficient-scope": "Mã truy cập không mang phạm vi quyền mà thao tác này cần.",
    "internal-error": "Cổng kết nối gặp lỗi; mã yêu cầu (X-Request-Id) giúp tìm sự việc trong nhật ký hệ thống.",
    "invalid-cursor": "Con trỏ phân trang không hợp lệ; hãy bắt đầu lại mà không gửi con trỏ.",
    "invalid-token": "Thiếu mã truy cập (access token) hoặc mã truy cập không hợp lệ.",
    "malformed-json": "Nội dung yêu cầu không phải là JSON hợp lệ.",
    "method-not-allowed": "Tài nguyên không chấp nhận phương thức này.",
    "not-found": "Không có tài nguyên nào tại địa chỉ này.",
    "not-ready": "Cổng kết nối chưa sẵn sàng. Vui lòng thử lại sau.",
    "oauth-error": "Yêu cầu cấp mã truy cập bị từ chối.",
    "operation-not-supported": "Cơ sở dữ liệu này không hỗ trợ thao tác này.",
    "quality-refused": "Lượt gửi dữ liệu vi phạm quy tắc chất lượng dữ liệu; không có dữ liệu nào được lưu.",
    "rate-limit-unavailable": "Không kết nối được kho đếm số yêu cầu. Vui lòng thử lại sau.",
    "rate-limited": "Vượt quá giới hạn tần suất: quá nhiều yêu cầu. Hãy thử lại sau.",
    "record-not-found": "Cơ sở dữ liệu không có hồ sơ nào với khóa này.",
    "request-timeout": "Phần tiêu đề của yêu cầu không đến kịp thời hạn.",
    "submission-rejected": "Không thao tác nào được chấp nhận; không có dữ liệu nào được lưu.",
    "too-many-failures": "Có quá nhiều yêu cầu cấp mã truy cập thất bại. Hãy thử lại sau.",
    "unknown-contract": "Không có hợp đồng dữ liệu này.",
    "unsupported-query": "Cơ sở dữ liệu không thực hiện được tổ hợp trường tìm kiếm này.",
    "upstream-error": "Hệ thống chuyên ngành trả lời bằng một lỗi hoặc bằng nội dung không hợp lệ.",
    "upstream-timeout": "Hệ thống chuyên ngành không trả lời trong thời hạn. Hãy thử lại sau.",
    "upstream-refused": "Nền tảng tích hợp (NDXP, LGSP) đã từ chối yêu cầu của cổng kết nối.",
    "upstream-unavailable": "Không kết nối được hệ thống chuyên ngành. Vui lòng thử lại sau.",
    "validation-error": "Một số giá trị trong yêu cầu không hợp lệ.",
}

#: The details the gateway writes, by problem type: English template -> Vietnamese template.
DETAILS: dict[str, dict[str, str]] = {
    "access-denied": {
        "The client's grants no longer allow deleting records.": (
            "Các quyền được cấp cho ứng dụng khách không còn cho phép xóa bản ghi."
        ),
        "Your grant does not allow deleting records: a delete needs a submit grant on every field of the record, "
        "or one with the delete operation.": (
            "Quyền khai thác của bạn không cho phép xóa hồ sơ: thao tác xóa cần quyền gửi (submit) trên mọi trường "
            "của hồ sơ, hoặc quyền có thao tác xóa (delete)."
        ),
        "Your grant does not cover writing: {fields}.": "Quyền khai thác của bạn không bao gồm việc ghi: {fields}.",
        "Your grant does not cover writing: {fields}. An update replaces {objects} whole, clearing the fields it "
        "leaves out: it needs a grant on the object or on each of its fields, and your grant covers only part of "
        "it.": (
            "Quyền khai thác của bạn không bao gồm việc ghi: {fields}. Thao tác cập nhật thay thế toàn bộ {objects} "
            "và xóa các trường không được gửi kèm: cần quyền trên cả đối tượng hoặc trên từng trường của nó, trong "
            "khi quyền của bạn chỉ bao gồm một phần."
        ),
        "the client is unknown or suspended": "ứng dụng khách không tồn tại hoặc đang bị tạm dừng",
        "No grant allows {operation} on {database}.": (
            "Không có quyền khai thác nào cho phép thao tác {operation} trên cơ sở dữ liệu {database}."
        ),
        "No grant allows {operation} on {database} for this purpose.": (
            "Không có quyền khai thác nào cho phép thao tác {operation} trên cơ sở dữ liệu {database} với mục đích "
            "(mã thủ tục hành chính) này."
        ),
        "Your grant does not cover searching by: {fields}.": (
            "Quyền khai thác của bạn không cho phép tìm kiếm theo: {fields}."
        ),
    },
    "audit-unavailable": {
        "The audit trail cannot be written right now, so the answer was withheld. Try again later.": (
            "Hiện không ghi được nhật ký kiểm toán nên câu trả lời đã bị giữ lại. Vui lòng thử lại sau."
        ),
        "The audit trail cannot be written right now, so the change was not made. Try again later.": (
            "Hiện không ghi được nhật ký kiểm toán nên thay đổi chưa được thực hiện. Vui lòng thử lại sau."
        ),
    },
    "bad-header": {
        "The X-Purpose header is required.": "Thiếu mã thủ tục hành chính (X-Purpose).",
        "The X-Actor-Id header is required.": "Thiếu mã cán bộ thực hiện (X-Actor-Id).",
        "The {header} header is required.": "Thiếu trường tiêu đề bắt buộc {header}.",
        "The {header} header is malformed: 1-64 letters, digits and . _ : @ / -, starting with a letter or digit.": (
            "Trường tiêu đề {header} sai định dạng: phải gồm 1-64 chữ cái, chữ số và các ký tự . _ : @ / -, bắt đầu "
            "bằng chữ cái hoặc chữ số."
        ),
        "The {header} header is given more than once: a request states one.": (
            "Trường tiêu đề {header} được gửi nhiều lần: mỗi yêu cầu chỉ nêu một giá trị."
        ),
        "{header} is required: 1-64 letters, digits or ._:@/- unique to this submission.": (
            "Thiếu khóa chống trùng lặp {header}: 1-64 chữ cái, chữ số hoặc ký tự ._:@/-, riêng cho lượt gửi dữ liệu "
            "này."
        ),
    },
    "bad-request": {
        "A request may carry one Content-Type header, not several.": (
            "Mỗi yêu cầu chỉ được mang một trường tiêu đề Content-Type."
        ),
        "The query parameter {name} is repeated: send it once.": (
            "Tham số truy vấn {name} bị lặp lại: chỉ gửi một lần."
        ),
        "A query parameter is repeated: send each once.": (
            "Có tham số truy vấn bị lặp lại: mỗi tham số chỉ gửi một lần."
        ),
    },
    "circuit-open": {
        "The sector system behind {database} is failing; requests are refused for {seconds} s to let it recover.": (
            "Hệ thống chuyên ngành của cơ sở dữ liệu {database} đang gặp sự cố; các yêu cầu bị từ chối trong "
            "{seconds} giây để hệ thống phục hồi."
        ),
    },
    "conflict": {
        "A key with this id is already registered.": "Đã có một khóa được đăng ký với mã này.",
        (
            "No other active client holds the admin scope: without this one, the admin API would refuse every "
            "request. Give the admin scope to another client first."
        ): (
            "Không còn ứng dụng khách nào khác đang hoạt động có phạm vi quyền admin: thiếu ứng dụng khách này, API "
            "quản trị sẽ từ chối mọi yêu cầu. Hãy cấp phạm vi quyền admin cho một ứng dụng khách khác trước."
        ),
        "client {client} already exists": "Ứng dụng khách {client} đã tồn tại.",
        "The same grant is already in place.": "Quyền khai thác giống hệt đã có hiệu lực.",
        (
            "This gateway's data key does not decrypt the active signing key: a new key now would be one no "
            "process could use. Give every process the same data key first."
        ): (
            "Khóa dữ liệu của cổng kết nối này không giải mã được khóa ký đang dùng: một khóa mới lúc này sẽ là "
            "khóa không tiến trình nào dùng được. Hãy cấp cùng một khóa dữ liệu cho mọi tiến trình trước."
        ),
        "This client already holds {held} webhook subscriptions, the most allowed ({limit}); end one first.": (
            "Ứng dụng khách này đã có {held} đăng ký webhook, mức tối đa cho phép ({limit}); hãy hủy một đăng ký trước."
        ),
    },
    "content-too-large": {
        "The request body exceeds {max_bytes} bytes.": "Nội dung yêu cầu vượt quá {max_bytes} byte.",
    },
    "unsupported-media-type": {
        "The request body must be JSON, sent with Content-Type: application/json (it was sent as {media_type}).": (
            "Nội dung yêu cầu phải là JSON, gửi với Content-Type: application/json (yêu cầu đã gửi dạng {media_type})."
        ),
    },
    "deadline-exceeded": {
        "No answer within {seconds} s.": "Không có câu trả lời trong vòng {seconds} giây; yêu cầu đã bị hủy.",
    },
    "exchange-queue-full": {
        "{unfinished} operations of this client are still waiting for delivery to {database}, and at most {limit} "
        "may wait: the {submitted} of this submission do not fit. Nothing was stored; submit again after "
        "Retry-After seconds.": (
            "Ứng dụng khách này còn {unfinished} thao tác đang chờ chuyển tới cơ sở dữ liệu {database}, trong khi "
            "chỉ được có tối đa {limit} thao tác chờ: {submitted} thao tác của lượt gửi này không còn chỗ. Không có "
            "dữ liệu nào được lưu; hãy gửi lại sau số giây trong Retry-After."
        ),
    },
    "exchange-unavailable": {
        "The submission could not be completed, so nothing was accepted by this answer. Retry with the same "
        "Idempotency-Key.": (
            "Không hoàn tất được lượt gửi dữ liệu nên câu trả lời này không tiếp nhận thao tác nào. Hãy gửi lại "
            "với cùng khóa Idempotency-Key."
        ),
    },
    "header-fields-too-large": {
        "A request may carry at most {count} header lines.": (
            "Mỗi yêu cầu chỉ được mang tối đa {count} dòng tiêu đề (header)."
        ),
        "A request's headers may take at most {max_bytes} bytes.": (
            "Phần tiêu đề của một yêu cầu chỉ được chiếm tối đa {max_bytes} byte."
        ),
    },
    "idempotency-key-reused": {
        "This Idempotency-Key was used for different operations; use a new key for a new submission.": (
            "Khóa Idempotency-Key này đã được dùng cho các thao tác khác; hãy dùng khóa mới cho lượt gửi dữ liệu mới."
        ),
    },
    "insufficient-scope": {
        "This operation needs the scope {scope}.": "Thao tác này cần phạm vi quyền (scope) {scope}.",
    },
    "invalid-cursor": {
        "The cursor is malformed.": "Con trỏ phân trang (cursor) sai định dạng.",
        "The cursor was issued for other filters; start again without one.": (
            "Con trỏ phân trang được cấp cho bộ lọc khác; hãy bắt đầu lại mà không gửi con trỏ."
        ),
        "The cursor is not a position of this change feed.": (
            "Con trỏ không phải là một vị trí của luồng thay đổi này."
        ),
        (
            "The cursor is beyond the end of this change feed (its last position is {end}): the feed never gave "
            "it, or the gateway's database was restored from an earlier backup. Read again from a cursor the feed "
            "gave, or without one."
        ): (
            "Con trỏ vượt quá vị trí cuối của luồng thay đổi này (vị trí cuối là {end}): luồng chưa từng trả về con "
            "trỏ này, hoặc cơ sở dữ liệu của cổng đã được khôi phục từ một bản sao lưu cũ hơn. Hãy đọc lại từ một con "
            "trỏ mà luồng đã trả về, hoặc không gửi con trỏ."
        ),
        "The cursor belongs to another search.": "Con trỏ phân trang thuộc về một lượt tìm kiếm khác.",
        "The cursor is not one the gateway gave: use next_cursor as it was answered.": (
            "Con trỏ phân trang không do cổng cấp: hãy dùng next_cursor đúng như đã nhận được."
        ),
    },
    "invalid-token": {
        "The access token is missing or invalid.": "Thiếu mã truy cập (access token) hoặc mã truy cập không hợp lệ.",
    },
    "malformed-json": {
        "The request body is not valid JSON.": "Nội dung yêu cầu không phải là JSON hợp lệ.",
        "The request body is not valid JSON, nests too deeply, or holds a too long number.": (
            "Nội dung yêu cầu không phải là JSON hợp lệ, lồng nhau quá sâu hoặc chứa số quá dài."
        ),
        "The request body is not valid JSON, or nests too deeply.": (
            "Nội dung yêu cầu không phải là JSON hợp lệ hoặc lồng nhau quá sâu."
        ),
        "NaN, Infinity and numbers beyond the range of a double are not JSON.": (
            "NaN, Infinity và các số vượt quá phạm vi số thực (double) không phải là JSON hợp lệ."
        ),
        "The key {key} appears twice in one object.": "Khóa {key} xuất hiện hai lần trong cùng một đối tượng.",
        "A key appears twice in one object.": "Một khóa xuất hiện hai lần trong cùng một đối tượng.",
    },
    "not-found": {
        "There is no client with this id.": "Không có ứng dụng khách nào với mã này.",
        "There is no such key for this client.": "Ứng dụng khách này không có khóa như vậy.",
        "There is no grant with this id.": "Không có quyền khai thác nào với mã này.",
        "There is no such documentation asset.": "Không có tệp tài liệu này.",
        "No database {database} in the axis catalogue.": (
            "Không có cơ sở dữ liệu {database} trong danh mục của trục kết nối."
        ),
        "There is no subscription with that id for this client.": (
            "Ứng dụng khách này không có đăng ký webhook nào với mã đó."
        ),
        "There is no receipt with that id for this client.": "Ứng dụng khách này không có biên nhận nào với mã đó.",
        "No problem type {slug}.": "Không có loại lỗi {slug}.",
        "The connector of {database} did not load: its routes are not served (/readyz says why).": (
            "Bộ kết nối của {database} không nạp được: các tuyến của nó không được phục vụ (/readyz cho biết lý do)."
        ),
        "No database {database} is served here (served: {served}).": (
            "Cổng kết nối không phục vụ cơ sở dữ liệu {database} (đang phục vụ: {served})."
        ),
        "no database {database}: not in the axis catalogue, the settings' connectors nor the submitted operations "
        "(known: {known})": (
            "không có cơ sở dữ liệu {database}: không có trong danh mục của trục kết nối, trong các bộ kết nối của "
            "cấu hình hay trong các thao tác đã gửi (đã biết: {known})"
        ),
        "no receipt {receipt}": "không có biên nhận {receipt}",
        "receipt {receipt} is of database {database}, not {other}": (
            "biên nhận {receipt} thuộc cơ sở dữ liệu {database}, không phải {other}"
        ),
        "no operation {ids} (gateway exchange dead-letters lists the dead letters)": (
            "không có thao tác {ids} (lệnh gateway exchange dead-letters liệt kê các thư chết)"
        ),
    },
    "operation-not-supported": {
        "The connector of {database} does not offer this operation ({method} .../{path}).": (
            "Bộ kết nối của {database} không hỗ trợ thao tác này ({method} .../{path})."
        ),
    },
    "not-ready": {
        "The gateway's database cannot be reached. Try again later.": (
            "Không kết nối được cơ sở dữ liệu của cổng kết nối. Vui lòng thử lại sau."
        ),
        "The gateway is not ready ({reason}).": "Cổng kết nối chưa sẵn sàng ({reason}).",
    },
    "oauth-error": {
        (
            "A token request is a form: send it with Content-Type: application/x-www-form-urlencoded "
            "(RFC 6749 section 4.4.2), not as JSON or another type."
        ): (
            "Yêu cầu cấp mã truy cập là một biểu mẫu: hãy gửi với Content-Type: application/x-www-form-urlencoded "
            "(RFC 6749 mục 4.4.2), không gửi dạng JSON hay kiểu khác."
        ),
        "Use one client authentication method, not two.": (
            "Chỉ dùng một phương thức xác thực ứng dụng khách, không dùng đồng thời hai phương thức."
        ),
        "Malformed Basic credentials.": "Thông tin xác thực Basic sai định dạng.",
        "Client authentication is required.": "Cần xác thực ứng dụng khách.",
        "The grant_type parameter is required.": "Thiếu tham số grant_type.",
        "Only the client_credentials grant is supported.": "Chỉ hỗ trợ kiểu cấp quyền client_credentials.",
        "Client authentication failed.": "Xác thực ứng dụng khách không thành công.",
        "Scope not allowed for this client: {scopes}": (
            "Ứng dụng khách không được cấp phạm vi quyền (scope): {scopes}"
        ),
        "client_assertion_type must be {assertion_type}.": "client_assertion_type phải là {assertion_type}.",
        "The client_assertion parameter is required.": "Thiếu tham số client_assertion.",
        "The Authorization header is repeated: send it once.": "Tiêu đề Authorization bị lặp lại: chỉ gửi một lần.",
        "The {parameter} parameter is repeated: send it once.": "Tham số {parameter} bị lặp lại: chỉ gửi một lần.",
    },
    "rate-limited": {
        "Too many requests; retry in {seconds} s.": (
            "Vượt quá giới hạn tần suất: quá nhiều yêu cầu; hãy thử lại sau {seconds} giây."
        ),
        "This client has obtained {count} tokens in the last minute: reuse a token until it expires (expires_in); "
        "retry in {seconds} s.": (
            "Ứng dụng khách này đã nhận {count} mã truy cập trong một phút qua: hãy dùng lại mã truy cập cho đến khi "
            "hết hạn (expires_in); thử lại sau {seconds} giây."
        ),
    },
    "request-timeout": {
        "The request's headers did not arrive within {seconds} s.": (
            "Phần tiêu đề của yêu cầu không đến trong vòng {seconds} giây."
        ),
    },
    "quality-refused": {
        "Operation {index} breaks the data-quality rule {rule} ({field}); nothing was stored.": (
            "Thao tác {index} vi phạm quy tắc chất lượng dữ liệu {rule} ({field}); không có dữ liệu nào được lưu."
        ),
        "Operation {index} breaks the data-quality rule {rule}; nothing was stored.": (
            "Thao tác {index} vi phạm quy tắc chất lượng dữ liệu {rule}; không có dữ liệu nào được lưu."
        ),
    },
    "submission-rejected": {
        "No operation could be accepted; nothing was stored.": (
            "Không thao tác nào được chấp nhận; không có dữ liệu nào được lưu."
        ),
    },
    "too-many-failures": {
        "Too many failed token requests for this client from this address; retry in {seconds} s.": (
            "Có quá nhiều yêu cầu cấp mã truy cập thất bại nhân danh ứng dụng khách này từ địa chỉ này; hãy thử lại "
            "sau {seconds} giây."
        ),
        "Too many failed token requests for this address; retry in {seconds} s.": (
            "Có quá nhiều yêu cầu cấp mã truy cập thất bại từ địa chỉ này; hãy thử lại sau {seconds} giây."
        ),
    },
    "unknown-contract": {
        "No contract named {name}.": "Không có hợp đồng dữ liệu nào tên {name}.",
        "Contract {name} has no version {version}.": "Hợp đồng dữ liệu {name} không có phiên bản {version}.",
    },
    "validation-error": {
        "metadata.officer is not the request's {header}: an operation is made by the officer the request names "
        "(leave it out, or give the same).": (
            "metadata.officer khác với {header} của yêu cầu: thao tác phải do chính cán bộ thực hiện mà yêu cầu nêu "
            "(bỏ trống, hoặc ghi đúng cán bộ đó)."
        ),
        "Some values of the request are invalid.": "Một số giá trị trong yêu cầu không hợp lệ.",
        "Some values are invalid.": "Một số giá trị không hợp lệ.",
        "An operation holds an integer beyond 64 bits.": "Một thao tác chứa số nguyên vượt quá 64 bit.",
        "The operation is invalid.": "Thao tác không hợp lệ.",
        "A delete carries no fields.": "Thao tác xóa không được kèm trường dữ liệu nào.",
        "fields.{key} differs from record_id; a record's key cannot change.": (
            "fields.{key} khác với record_id; không được thay đổi khóa của hồ sơ."
        ),
        "Not fields of {contract}: {fields}.": "Không phải là trường của {contract}: {fields}.",
        "An update changes at least one field.": "Thao tác cập nhật phải thay đổi ít nhất một trường.",
        "The url must not contain spaces or control characters.": (
            "Địa chỉ url không được chứa dấu cách hoặc ký tự điều khiển."
        ),
        "The url is not a valid URL.": "Địa chỉ url không phải là URL hợp lệ.",
        "The url must be an http or https URL with a host and no credentials.": (
            "Địa chỉ url phải là URL http hoặc https, có tên máy chủ và không kèm thông tin đăng nhập."
        ),
        "The url's port must be between 1 and 65535.": "Cổng của địa chỉ url phải nằm trong khoảng từ 1 đến 65535.",
        "The url is refused: {reason}.": "Địa chỉ url bị từ chối: {reason}.",
        "Invalid month: {reason}.": "Tháng không hợp lệ: {reason}.",
        "Invalid {key_name}.": "Giá trị {key_name} không hợp lệ.",
        "A submission carries at most {count} operations.": (
            "Mỗi lượt gửi dữ liệu chỉ được chứa tối đa {count} thao tác."
        ),
        "A key id is 1-64 printable ASCII characters without spaces.": (
            "Mã khóa (kid) phải gồm 1-64 ký tự ASCII in được, không có dấu cách."
        ),
        "Use one of {algorithms}.": "Hãy dùng một trong các thuật toán: {algorithms}.",
        "This key cannot be registered: {error}.": "Không thể đăng ký khóa này: {error}.",
        "The key's own id is not 1-64 printable ASCII characters; give one.": (
            "Mã riêng của khóa không gồm 1-64 ký tự ASCII in được; hãy chỉ định mã khóa (kid)."
        ),
        "This certificate has expired.": "Chứng thư số này đã hết hạn.",
        "This gateway serves no such database (it serves: {databases}).": (
            "Cổng kết nối không phục vụ cơ sở dữ liệu này (các cơ sở dữ liệu được phục vụ: {databases})."
        ),
        "The grant does not fit the {database} database.": (
            "Quyền khai thác không phù hợp với cơ sở dữ liệu {database}."
        ),
        "There is no client with this id.": "Không có ứng dụng khách nào với mã này.",
    },
}

#: Reasons the gateway puts inside a detail (its ``{reason}`` placeholder): English template -> Vietnamese.
REASONS: dict[str, str] = {
    "month {month} is not of the form YYYY-MM": "tháng {month} không có dạng YYYY-MM",
    "month {month} does not exist": "tháng {month} không tồn tại",
    "month {month} has not begun": "tháng {month} chưa bắt đầu",
    "the host does not resolve": "không phân giải được tên máy chủ",
    "the host is, or resolves to, a non-public address": (
        "máy chủ là, hoặc phân giải thành, một địa chỉ không công khai"
    ),
    "unreachable: {stores}": "không kết nối được: {stores}",
    "no connector loaded": "chưa nạp được bộ kết nối (connector) nào",
}

#: The messages of the entries of a problem's ``errors`` list, by the entry's ``type``: English template ->
#: Vietnamese (pydantic's common ones and the gateway's own; any other message is answered as written). A
#: ``{choices}`` placeholder is a list of values whose "or" is translated.
ERRORS: dict[str, dict[str, str]] = {
    "missing": {"Field required": "Thiếu trường bắt buộc"},
    "unprintable": {
        "control, invisible and bidirectional formatting characters (line breaks, escapes, NUL) are not allowed": (
            "Không được dùng ký tự điều khiển, ký tự vô hình hoặc ký tự định dạng hai chiều (xuống dòng, mã thoát, NUL)"
        ),
    },
    "extra_forbidden": {"Extra inputs are not permitted": "Không được gửi trường ngoài hợp đồng dữ liệu"},
    "string_type": {"Input should be a valid string": "Giá trị phải là chuỗi ký tự"},
    "int_type": {
        "Input should be a valid integer": "Giá trị phải là số nguyên",
        "Input should be a JSON integer (not a boolean or a string)": (
            "Giá trị phải là số nguyên JSON (không phải giá trị logic hay chuỗi ký tự)"
        ),
    },
    "int_parsing": {
        "Input should be a valid integer, unable to parse string as an integer": (
            "Giá trị phải là số nguyên; không đọc được chuỗi thành số nguyên"
        ),
    },
    "int_from_float": {
        "Input should be a valid integer, got a number with a fractional part": (
            "Giá trị phải là số nguyên, không có phần thập phân"
        ),
    },
    "float_type": {"Input should be a valid number": "Giá trị phải là số"},
    "float_parsing": {
        "Input should be a valid number, unable to parse string as a number": (
            "Giá trị phải là số; không đọc được chuỗi thành số"
        ),
    },
    "bool_type": {"Input should be a valid boolean": "Giá trị phải là giá trị logic (true hoặc false)"},
    "bool_parsing": {
        "Input should be a valid boolean, unable to interpret input": "Giá trị phải là giá trị logic (true hoặc false)",
    },
    "list_type": {"Input should be a valid list": "Giá trị phải là danh sách"},
    "dict_type": {"Input should be a valid dictionary": "Giá trị phải là đối tượng"},
    "model_type": {"Input should be a valid dictionary or instance of {model}": "Giá trị phải là đối tượng {model}"},
    "string_too_short": {
        "String should have at least {count} characters": "Chuỗi phải có ít nhất {count} ký tự",
        "String should have at least {count} character": "Chuỗi phải có ít nhất {count} ký tự",
    },
    "string_too_long": {
        "String should have at most {count} characters": "Chuỗi chỉ được có tối đa {count} ký tự",
        "String should have at most {count} character": "Chuỗi chỉ được có tối đa {count} ký tự",
    },
    "string_pattern_mismatch": {"String should match pattern {pattern}": "Chuỗi phải khớp mẫu {pattern}"},
    "too_short": {
        "List should have at least {count} items after validation, not {given}": (
            "Danh sách phải có ít nhất {count} phần tử, không phải {given}"
        ),
        "List should have at least {count} item after validation, not {given}": (
            "Danh sách phải có ít nhất {count} phần tử, không phải {given}"
        ),
    },
    "too_long": {
        "List should have at most {count} items after validation, not {given}": (
            "Danh sách chỉ được có tối đa {count} phần tử, không phải {given}"
        ),
        "List should have at most {count} item after validation, not {given}": (
            "Danh sách chỉ được có tối đa {count} phần tử, không phải {given}"
        ),
    },
    "greater_than": {"Input should be greater than {limit}": "Giá trị phải lớn hơn {limit}"},
    "greater_than_equal": {
        "Input should be greater than or equal to {limit}": "Giá trị phải lớn hơn hoặc bằng {limit}",
    },
    "less_than": {"Input should be less than {limit}": "Giá trị phải nhỏ hơn {limit}"},
    "less_than_equal": {"Input should be less than or equal to {limit}": "Giá trị phải nhỏ hơn hoặc bằng {limit}"},
    "literal_error": {"Input should be {choices}": "Giá trị phải là {choices}"},
    "enum": {"Input should be {choices}": "Giá trị phải là {choices}"},
    "date_from_datetime_parsing": {
        "Input should be a valid date or datetime, {error}": "Giá trị phải là ngày hoặc thời điểm hợp lệ ({error})",
    },
    "date_parsing": {
        "Input should be a valid date in the format YYYY-MM-DD, {error}": (
            "Giá trị phải là ngày hợp lệ theo dạng YYYY-MM-DD ({error})"
        ),
    },
    "date_from_datetime_inexact": {
        "Datetimes provided to dates should have zero time - e.g. be exact dates": (
            "Thời điểm dùng làm ngày phải có giờ bằng 0 (đúng một ngày)"
        ),
    },
    "datetime_from_date_parsing": {
        "Input should be a valid datetime or date, {error}": "Giá trị phải là thời điểm hoặc ngày hợp lệ ({error})",
    },
    "datetime_parsing": {
        "Input should be a valid datetime, {error}": "Giá trị phải là thời điểm hợp lệ ({error})",
    },
    "uuid_parsing": {"Input should be a valid UUID, {error}": "Giá trị phải là UUID hợp lệ ({error})"},
    "json_invalid": {"Invalid JSON: {error}": "JSON không hợp lệ: {error}"},
    "unsupported_operation": {
        "The {database} database does not offer this operation (it offers: {operations}).": (
            "Cơ sở dữ liệu {database} không hỗ trợ thao tác này (các thao tác được hỗ trợ: {operations})."
        ),
    },
    "unknown_field": {
        "Not a field of the {contract} contract.": "Không phải là trường của hợp đồng dữ liệu {contract}.",
    },
    "timezone_aware": {"Input should have timezone info": "Giá trị phải có múi giờ (độ lệch so với UTC)"},
    "datetime_type": {
        "Input should be a date-time with its UTC offset, as text (RFC 3339)": (
            "Giá trị phải là thời điểm kèm độ lệch so với UTC, viết dạng văn bản (RFC 3339)"
        ),
    },
    "datetime_out_of_range": {
        "Input should be a date-time whose time in UTC lies between the years 1 and 9999": (
            "Giá trị phải là thời điểm mà giờ UTC tương ứng nằm trong khoảng từ năm 1 đến năm 9999"
        ),
        "Input should be a date between 0001-01-02 and 9999-12-30": (
            "Giá trị phải là ngày trong khoảng từ 0001-01-02 đến 9999-12-30"
        ),
    },
    "changed_at_out_of_range": {
        "changed_at should lie between 1850-01-01 and one day after the gateway's clock": (
            "changed_at phải nằm trong khoảng từ 1850-01-01 đến một ngày sau giờ hiện tại của cổng kết nối"
        ),
    },
}
