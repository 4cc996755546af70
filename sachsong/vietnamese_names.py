"""Name frequency data for the demo generator: Vietnamese family, middle and given names.

Family-name shares follow published surveys of Vietnamese surnames (Nguyễn ≈ 38%, Trần ≈ 11–12%, Lê ≈ 9.5%, …).
Middle and given names are listed roughly from most to least common; the generator turns list rank into a
long-tail (Zipf-like) weight, so only the order matters there.

Spellings use the traditional tone placement ("Hòa", "Thúy", "Thủy"), which is what most registers hold; the
generator derives the new placement ("Hoà", "Thuý") as noise. All strings are NFC.
"""

from __future__ import annotations

# (family name, share in percent). The head of the list carries ~89%; the tail shares the rest.
FAMILY_NAME_SHARES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.0),
    ("Trần", 11.5),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 3.0),
    ("Huỳnh", 2.1),
    ("Phan", 4.5),
    ("Vũ", 2.0),
    ("Võ", 1.9),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Trương", 0.6),
    ("Đinh", 0.55),
    ("Đoàn", 0.5),
    ("Đào", 0.45),
    ("Mai", 0.4),
    ("Trịnh", 0.4),
    ("Lương", 0.35),
    ("Cao", 0.35),
    ("Hà", 0.35),
    ("Lâm", 0.3),
    ("Phùng", 0.25),
    ("Tô", 0.25),
    ("Thái", 0.22),
    ("Lưu", 0.22),
    ("Châu", 0.2),
    ("Tạ", 0.2),
    ("Vương", 0.18),
    ("Quách", 0.15),
    ("Kiều", 0.12),
    ("Lại", 0.12),
    ("Triệu", 0.12),
    ("Chu", 0.12),
    ("Thân", 0.1),
    ("Hứa", 0.1),
    ("Mạc", 0.08),
    ("Khúc", 0.06),
    ("Tăng", 0.06),
    ("Giang", 0.06),
    ("La", 0.06),
    ("Nông", 0.05),
    ("Đàm", 0.05),
    ("Diệp", 0.05),
    ("Lục", 0.04),
    ("Ông", 0.04),
    ("Doãn", 0.04),
    ("Kim", 0.04),
    ("Tống", 0.04),
    ("Từ", 0.04),
    ("Hầu", 0.03),
    ("Ninh", 0.03),
    ("Âu", 0.03),
    ("Quan", 0.03),
    ("Bạch", 0.03),
    ("Khổng", 0.02),
    ("Phí", 0.02),
    ("Mẫn", 0.02),
    ("Hàn", 0.02),
    ("Lò", 0.02),
    ("Thạch", 0.02),
    ("Đồng", 0.1),
    ("Lã", 0.05),
    ("Vi", 0.05),
    ("Cù", 0.05),
    ("Bế", 0.05),
    ("Lạc", 0.04),
    ("Trình", 0.04),
    ("Nghiêm", 0.06),
    # Compound family names of the Nguyễn royal line; "Tôn Thất" becomes "Tôn Nữ" for women.
    ("Tôn Thất", 0.04),
    ("Nguyễn Phúc", 0.02),
)

# Compound family names that depend on sex: (male form, female form).
FAMILY_NAME_BY_SEX: tuple[tuple[str, str], ...] = (("Tôn Thất", "Tôn Nữ"),)

# Middle names for people born before ~1990 (Văn/Thị dominate) and after (more varied). (name, weight).
MALE_MIDDLE_OLDER: tuple[tuple[str, float], ...] = (
    ("Văn", 55.0),
    ("Hữu", 7.0),
    ("Đức", 6.0),
    ("Công", 5.0),
    ("Quang", 4.0),
    ("Minh", 4.0),
    ("Đình", 4.0),
    ("Xuân", 3.0),
    ("Ngọc", 2.5),
    ("Thanh", 2.5),
    ("Bá", 1.5),
    ("Trọng", 1.5),
    ("Viết", 1.2),
    ("Khắc", 1.0),
    ("Tiến", 1.0),
    ("Quốc", 1.0),
)
MALE_MIDDLE_YOUNGER: tuple[tuple[str, float], ...] = (
    ("Văn", 22.0),
    ("Minh", 10.0),
    ("Đức", 8.0),
    ("Quang", 7.0),
    ("Hữu", 5.0),
    ("Công", 4.0),
    ("Thành", 4.0),
    ("Gia", 5.0),
    ("Anh", 4.0),
    ("Tuấn", 3.0),
    ("Duy", 3.0),
    ("Trung", 2.5),
    ("Quốc", 3.0),
    ("Hoàng", 3.0),
    ("Thanh", 2.5),
    ("Tiến", 2.0),
    ("Mạnh", 1.5),
    ("Phúc", 2.0),
    ("Nhật", 2.5),
    ("Bảo", 3.0),
    ("Đăng", 2.0),
    ("Hải", 1.5),
    ("Xuân", 1.5),
    ("Ngọc", 1.0),
)
FEMALE_MIDDLE_OLDER: tuple[tuple[str, float], ...] = (
    ("Thị", 68.0),
    ("Ngọc", 5.0),
    ("Thu", 4.0),
    ("Thanh", 4.0),
    ("Kim", 3.0),
    ("Hồng", 3.0),
    ("Minh", 2.0),
    ("Xuân", 2.0),
    ("Bích", 1.5),
    ("Thúy", 1.5),
    ("Mỹ", 1.0),
    ("Tuyết", 1.0),
    ("Lệ", 1.0),
    ("Hoài", 1.0),
)
FEMALE_MIDDLE_YOUNGER: tuple[tuple[str, float], ...] = (
    ("Thị", 30.0),
    ("Ngọc", 8.0),
    ("Thu", 5.0),
    ("Thanh", 5.0),
    ("Kim", 3.0),
    ("Thùy", 4.0),
    ("Minh", 4.0),
    ("Phương", 4.0),
    ("Mỹ", 3.0),
    ("Bảo", 4.0),
    ("Hồng", 3.0),
    ("Khánh", 3.0),
    ("Diệu", 2.0),
    ("Hoài", 2.0),
    ("Quỳnh", 2.0),
    ("Hải", 1.5),
    ("Tường", 1.0),
    ("Cẩm", 1.5),
    ("Như", 2.0),
    ("Hà", 1.5),
    ("Yến", 1.0),
    ("Mai", 1.5),
    ("Lan", 1.0),
    ("Tuyết", 1.0),
    ("Ánh", 1.0),
    ("Xuân", 1.0),
)

# Second middle syllables (for "Nguyễn Thị Thu Hà", "Lê Văn Minh Tuấn"-style names).
SECOND_MIDDLE_MALE: tuple[str, ...] = ("Minh", "Quang", "Anh", "Đức", "Hoàng", "Bảo", "Gia", "Nhật", "Thanh")
SECOND_MIDDLE_FEMALE: tuple[str, ...] = ("Thu", "Ngọc", "Thanh", "Kim", "Minh", "Bảo", "Phương", "Hồng", "Mỹ")

# Given names, most common first (a few hundred each).
MALE_GIVEN: tuple[str, ...] = (
    "Hùng", "Dũng", "Tuấn", "Minh", "Hải", "Nam", "Long", "Thành", "Hoàng", "Sơn",
    "Huy", "Đức", "Cường", "Quang", "Trung", "Hiếu", "Phong", "Tùng", "Thắng", "Tài",
    "Hưng", "Khánh", "Bình", "Việt", "Duy", "Anh", "Phúc", "Lâm", "Toàn", "Thịnh",
    "Đạt", "Khoa", "Hòa", "Kiên", "Hiệp", "Vinh", "Quân", "Tú", "Thanh", "Tiến",
    "Hậu", "Tâm", "Thái", "Trí", "Nghĩa", "Lộc", "Ngữ", "Phát", "Thọ", "Quý",
    "Bảo", "Công", "Đông", "Giang", "Hà", "Hạnh", "Hiển", "Hoan", "Hội", "Hợp",
    "Kha", "Khải", "Khang", "Khôi", "Kỳ", "Lực", "Luân", "Mạnh", "Nguyên", "Nhân",
    "Nhật", "Phú", "Phương", "Quốc", "Quyết", "Sang", "Sinh", "Sỹ", "Tân", "Thạch",
    "Thiện", "Thông", "Thuận", "Tín", "Tình", "Toản", "Trọng", "Trường", "Tuyên", "Vũ",
    "Vương", "Xuân", "Ân", "Bách", "Bằng", "Chiến", "Chính", "Chung", "Danh", "Diệu",
    "Doanh", "Dương", "Đại", "Điệp", "Định", "Đoàn", "Độ", "Đồng", "Được", "Gia",
    "Hạ", "Hào", "Hảo", "Hân", "Hiền", "Hinh", "Hoạt", "Học", "Hồng", "Huân",
    "Huấn", "Hữu", "Hướng", "Khiêm", "Khoát", "Khương", "Kiệt", "Lam", "Lành", "Lăng",
    "Lập", "Lễ", "Liêm", "Linh", "Lợi", "Luật", "Lượng", "Mẫn", "Mười", "Năm",
    "Nghị", "Ngọc", "Nhất", "Ninh", "Pháp", "Phi", "Phụng", "Phước", "Quảng", "Quỳnh",
    "Sáng", "Sĩ", "Song", "Sửu", "Tạo", "Tấn", "Thạnh", "Thao", "Thảo", "Thế",
    "Thiên", "Thiết", "Đạo", "Thống", "Thủy", "Thụy", "Thức", "Tiệp", "Tịnh", "Toại",
    "Tới", "Trác", "Trãi", "Triều", "Triết", "Trực", "Tuệ", "Tường", "Tưởng", "Uy",
    "Văn", "Vĩ", "Viên", "Vịnh", "Võ", "Vỹ", "Xương", "Yên", "An", "Bắc",
    "Biên", "Cảnh", "Cần", "Châu", "Chí", "Chương", "Côn", "Củng", "Dân", "Diễn",
    "Du", "Duẩn", "Dự", "Đan", "Đảm", "Đăng", "Đệ", "Địch", "Điền", "Đính",
    "Đôn", "Giáp", "Hạc", "Hãn", "Hằng", "Hiến", "Hiệu", "Hoài", "Hoán", "Hoành",
    "Hoạch", "Hổ", "Huynh", "Khởi", "Khanh", "Khuê", "Khuyến", "Kính", "Lai", "Lãm",
    "Lạc", "Lĩnh", "Loan", "Luyện", "Lưu", "Mậu", "Mỹ", "Nghiêm", "Nhạc", "Nho",
    "Oanh", "Phẩm", "Phổ", "Phục", "Quế", "Quyền", "Sâm", "Sở", "Sương", "Tạ",
    "Tần", "Tặng", "Thân", "Thẩm", "Thỏa", "Thuyên", "Thủ", "Tiên", "Tính", "Tòng",
    "Trạch", "Tráng", "Trình", "Tụ", "Tuyến", "Uẩn", "Ưng", "Vân", "Vận", "Vọng",
    "Ý", "Yến", "Lý", "Ký", "Mỵ",
)  # fmt: skip

FEMALE_GIVEN: tuple[str, ...] = (
    "Hương", "Lan", "Hà", "Linh", "Trang", "Hoa", "Thảo", "Anh", "Hằng", "Phương",
    "Ngọc", "Huyền", "Mai", "Thủy", "Thúy", "Nga", "Hạnh", "Yến", "Dung", "Vân",
    "Loan", "Thu", "Hiền", "Nhung", "Tâm", "Thùy", "Oanh", "Quỳnh", "Vy", "Ly",
    "Nhi", "Trâm", "Hồng", "Giang", "My", "Chi", "Diệp", "Ngân", "Liên", "Tuyết",
    "Hòa", "Xuân", "Châu", "Diệu", "Hậu", "Huệ", "Lệ", "Lý", "Mỹ", "Nhàn",
    "Như", "Nương", "Phượng", "Quyên", "Sương", "Tú", "Thanh", "Thắm", "Thơ", "Thoa",
    "Thy", "Tiên", "Trinh", "Uyên", "Vi", "Xuyến", "Ánh", "Bích", "Bình", "Cúc",
    "Diễm", "Duyên", "Đào", "Điệp", "Gấm", "Hải", "Hảo", "Hân", "Hoài", "Hoàn",
    "Hường", "Khánh", "Khuyên", "Kiều", "Kim", "Lài", "Lam", "Liễu", "Huế", "Lụa",
    "Lương", "Mận", "Minh", "Mơ", "Mến", "Nguyệt", "Nhạn", "Nhiên", "Nhật", "Nụ",
    "Phúc", "Quế", "Quý", "Sen", "Tài", "Thái", "Thắng", "Thiện", "Thịnh", "Thục",
    "Thương", "Thụy", "Toan", "Trà", "Trúc", "Tuyền", "Tươi", "Uyển", "Vàng", "Vui",
    "Xoan", "Yên", "Ái", "An", "Ân", "Bảo", "Băng", "Cầm", "Chinh", "Chung",
    "Dạ", "Dịu", "Doan", "Dương", "Đan", "Đoan", "Đông", "Gái", "Hạ", "Hiên",
    "Hoan", "Hợi", "Huyên", "Khanh", "Khuê", "Lâm", "Lê", "Liêm", "Ngần", "Thuần",
    "Lựu", "Mẫn", "Miên", "Mùi", "Na", "Nam", "Ngà", "Nghĩa", "Ngoan", "Nhã",
    "Nhài", "Nhiệm", "Nhu", "Ninh", "Nữ", "Phấn", "Phi", "Phụng", "Phước", "Quy",
    "Quyết", "Sa", "Sáu", "Son", "Sơn", "Sự", "Tám", "Thạch", "Hòe", "Thạnh",
    "Thêu", "Thìn", "Hiếu", "Thuận", "Thuyên", "Thư", "Thức", "Tín", "Tình", "Tố",
    "Tơ", "Trầm", "Tri", "Trọng", "Tuệ", "Tường", "Lành", "Vĩ", "Viên", "Việt",
    "Vinh", "Vũ", "Xinh", "Ý", "Yêu", "Sỹ", "Kỳ", "Mỵ", "Ngát", "Khoa",
)  # fmt: skip

# Localities inside an old commune (village/residential group names).
VILLAGE_NAMES: tuple[str, ...] = (
    "Đông", "Tây", "Nam", "Bắc", "Trung", "Thượng", "Hạ", "Tân Lập", "Phú Lộc", "An Xá",
    "Đông Thành", "Tây Sơn", "Hòa Bình", "Thanh Tân", "Lộc Long", "Phước Tích", "Mỹ Thủy", "Cổ Hiền",
)  # fmt: skip
STREET_NAMES: tuple[str, ...] = (
    "Lý Thường Kiệt", "Trần Hưng Đạo", "Quang Trung", "Hùng Vương", "Lê Lợi", "Nguyễn Huệ",
    "Hai Bà Trưng", "Lê Duẩn", "Phan Bội Châu", "Võ Thị Sáu", "Hữu Nghị", "Nguyễn Trãi",
)  # fmt: skip

# Mobile prefixes in use (Viettel, MobiFone, VinaPhone, Vietnamobile, Gmobile) with rough market weights.
MOBILE_PREFIXES: tuple[tuple[str, float], ...] = (
    ("086", 3.0), ("096", 4.0), ("097", 5.0), ("098", 5.0),
    ("032", 3.0), ("033", 3.0), ("034", 3.0), ("035", 3.0), ("036", 3.0), ("037", 3.0), ("038", 3.0), ("039", 3.0),
    ("089", 2.0), ("090", 4.0), ("093", 3.0), ("070", 1.5), ("076", 1.5), ("077", 1.5), ("078", 1.5), ("079", 1.5),
    ("088", 2.0), ("091", 4.0), ("094", 3.0), ("081", 1.5), ("082", 1.5), ("083", 1.5), ("084", 1.5), ("085", 1.5),
    ("092", 1.0), ("056", 0.5), ("058", 0.5), ("099", 0.3), ("059", 0.3),
)  # fmt: skip

# Current 3-digit prefix → the 4-digit prefix of the 11-digit number it replaced in 2018.
OLD_ELEVEN_DIGIT_PREFIX: dict[str, str] = {
    "032": "0162", "033": "0163", "034": "0164", "035": "0165", "036": "0166", "037": "0167", "038": "0168",
    "039": "0169", "070": "0120", "079": "0121", "077": "0122", "076": "0126", "078": "0128", "083": "0123",
    "084": "0124", "085": "0125", "081": "0127", "082": "0129", "056": "0186", "058": "0188", "059": "0199",
}  # fmt: skip
