//! The portal's words, in English and Kiswahili, by key.

use crate::core::model::Lang;

/// The portal's words in English and Kiswahili.
pub(crate) fn tr(lang: Lang, key: &str) -> &'static str {
    let (en, sw) = match key {
        "tagline" => (
            "Fast Wi-Fi. Pay with M-Pesa.",
            "Wi-Fi ya kasi. Lipa kwa M-Pesa.",
        ),
        "choose" => ("Choose a package", "Chagua kifurushi"),
        "phone" => ("M-Pesa phone number", "Nambari ya simu ya M-Pesa"),
        "buy" => ("Pay with M-Pesa", "Lipa kwa M-Pesa"),
        "voucher" => ("Have a voucher?", "Una vocha?"),
        "code" => ("Voucher code", "Nambari ya vocha"),
        "redeem" => ("Use voucher", "Tumia vocha"),
        "online" => ("You are online", "Umeunganishwa"),
        "left" => ("time left", "muda uliobaki"),
        "data" => ("Data used", "Data iliyotumika"),
        "unlimited" => ("unlimited", "bila kikomo"),
        "more" => ("Buy more time", "Nunua muda zaidi"),
        "check_phone" => (
            "Check your phone: enter your M-Pesa PIN to pay.",
            "Angalia simu yako: weka PIN yako ya M-Pesa kulipa.",
        ),
        "sending" => (
            "Sending the payment request to your phone...",
            "Tunatuma ombi la malipo kwa simu yako...",
        ),
        "paid" => ("Paid. You are online.", "Umelipa. Umeunganishwa."),
        "cancelled" => (
            "You cancelled the payment. Nothing was charged.",
            "Umesitisha malipo. Hukutozwa chochote.",
        ),
        "timed_out" => (
            "The payment request timed out. Nothing was charged. Try again.",
            "Muda wa ombi la malipo umeisha. Hukutozwa. Jaribu tena.",
        ),
        "wrong_pin" => (
            "Wrong M-Pesa PIN. Nothing was charged. Try again.",
            "PIN ya M-Pesa si sahihi. Hukutozwa. Jaribu tena.",
        ),
        "funds" => (
            "Not enough money on M-Pesa for this package.",
            "Salio la M-Pesa halitoshi kwa kifurushi hiki.",
        ),
        "no_room" => (
            "Sales are paused: the router's storage is full. Guests already online stay \
             online. Ask staff for help.",
            "Mauzo yamesitishwa: hifadhi ya kipanga njia imejaa. Walio mtandaoni wanaendelea. \
             Omba msaada kwa mhudumu.",
        ),
        "busy" => (
            "Your phone is busy with another M-Pesa request. Wait a minute and try again.",
            "Simu yako ina ombi lingine la M-Pesa. Subiri dakika moja ujaribu tena.",
        ),
        "failed" => (
            "The payment did not go through. Nothing was charged.",
            "Malipo hayakufaulu. Hukutozwa.",
        ),
        "back" => ("Back to packages", "Rudi kwenye vifurushi"),
        "bad_voucher" => (
            "That voucher code is not valid.",
            "Nambari hiyo ya vocha si sahihi.",
        ),
        "used_voucher" => (
            "That voucher has already been used.",
            "Vocha hiyo imeshatumika.",
        ),
        "unknown_device" => (
            "We cannot see your device on the Wi-Fi. Reconnect and try again.",
            "Hatuoni kifaa chako kwenye Wi-Fi. Unganisha upya ujaribu tena.",
        ),
        "clock" => (
            "The router is still starting up. Try again in a minute.",
            "Kipanga njia bado kinawaka. Jaribu tena baada ya dakika moja.",
        ),
        "blocked" => (
            "This device is blocked. Ask staff for help.",
            "Kifaa hiki kimezuiwa. Omba msaada.",
        ),
        "clone" => (
            "Another device is using this device's address. Ask staff for help.",
            "Kifaa kingine kinatumia anwani ya kifaa hiki. Omba msaada kwa mhudumu.",
        ),
        "error" => (
            "Something went wrong. Try again.",
            "Hitilafu imetokea. Jaribu tena.",
        ),
        "no_package" => ("That package is not on sale.", "Kifurushi hicho hakiuzwi."),
        "pending" => (
            "A payment is waiting for your PIN.",
            "Malipo yanasubiri PIN yako.",
        ),
        "see_payment" => ("See payment", "Angalia malipo"),
        "ended" => ("Your session has ended.", "Muda wako umeisha."),
        "receipt" => ("M-Pesa receipt", "Risiti ya M-Pesa"),
        "switch" => ("Kiswahili", "English"),
        "slow_down" => ("Too many tries. Wait a minute and try again.", "Majaribio mengi mno. Subiri dakika moja ujaribu tena."),
        "move" => ("Paid on this phone before? Move your time here", "Ulilipa awali kwa simu hii? Hamisha muda wako hapa"),
        "move_help" => (
            "If your phone changed its Wi-Fi address, enter the move code from your payment page and the number that paid.",
            "Kama simu yako imebadilisha anwani ya Wi-Fi, weka nambari ya kuhamisha kutoka ukurasa wa malipo yako na nambari iliyolipa.",
        ),
        "receipt_code" => ("Move code", "Nambari ya kuhamisha"),
        "move_code" => (
            "Move code (keep it secret: with the number that paid, it moves your time to this phone if its Wi-Fi address changes)",
            "Nambari ya kuhamisha (itunze siri: pamoja na nambari iliyolipa, inahamisha muda wako kwenye simu hii anwani yake ya Wi-Fi ikibadilika)",
        ),
        "move_button" => ("Move my time here", "Hamisha muda wangu hapa"),
        "move_not_found" => (
            "No running purchase matches that code and phone number.",
            "Hakuna ununuzi unaoendelea wenye risiti na nambari hiyo.",
        ),
        "move_too_soon" => ("This purchase was moved recently. Try again later.", "Ununuzi huu umehamishwa hivi karibuni. Jaribu baadaye."),
        "too_soon" => (
            "You just asked for this amount on this phone. Check your phone for that request, \
             or wait two minutes.",
            "Umeomba kiasi hiki kwa simu hii sasa hivi. Angalia ombi hilo kwenye simu yako, au \
             subiri dakika mbili.",
        ),
        "phone_prompted" => (
            "This number has had three M-Pesa prompts in the last ten minutes. Wait a few minutes, or use a voucher.",
            "Namba hii imepokea maombi matatu ya M-Pesa ndani ya dakika kumi. Subiri dakika chache, au tumia vocha.",
        ),
        "too_many" => (
            "Too many payment attempts from this device. Wait a few minutes.",
            "Majaribio mengi mno ya malipo kutoka kifaa hiki. Subiri dakika chache.",
        ),
        "unanswered" => (
            "M-Pesa did not answer. If money left your account, paste the M-Pesa message on \
             the home page.",
            "M-Pesa haikujibu. Kama pesa zimetoka kwenye akaunti yako, bandika ujumbe wa M-Pesa \
             kwenye ukurasa wa mwanzo.",
        ),
        "sms_title" => (
            "Paid but not online? Paste your M-Pesa message",
            "Umelipa lakini hujaunganishwa? Bandika ujumbe wako wa M-Pesa",
        ),
        "sms_label" => ("M-Pesa message", "Ujumbe wa M-Pesa"),
        "sms_send" => ("Check my payment", "Angalia malipo yangu"),
        "sms_checking" => (
            "Checking your payment with M-Pesa. Look again in a moment.",
            "Tunathibitisha malipo yako na M-Pesa. Angalia tena baada ya muda mfupi.",
        ),
        "sms_sent" => (
            "We could not confirm this payment ourselves. The owner will check it; you are \
             connected as soon as it is approved.",
            "Hatukuweza kuthibitisha malipo haya wenyewe. Mwenye huduma ataangalia; \
             utaunganishwa mara atakapokubali.",
        ),
        "sms_not_payment" => (
            "That is not an M-Pesa payment message. Paste the whole message, starting with \
             the code.",
            "Huo si ujumbe wa malipo ya M-Pesa. Bandika ujumbe wote, ukianza na nambari ya \
             muamala.",
        ),
        "sms_used" => (
            "That M-Pesa payment has already been used.",
            "Malipo hayo ya M-Pesa yameshatumika.",
        ),
        "sms_waiting" => (
            "That payment is already waiting for the owner.",
            "Malipo hayo tayari yanasubiri mwenye huduma.",
        ),
        "sms_rejected" => (
            "The owner did not accept that payment. Ask staff for help.",
            "Mwenye huduma hakukubali malipo hayo. Omba msaada.",
        ),
        "sms_low" => (
            "That payment is less than the price of the package.",
            "Malipo hayo ni chini ya bei ya kifurushi.",
        ),
        "owner_busy" => (
            "Too many payments are waiting for the owner. Ask staff for help.",
            "Malipo mengi yanamsubiri mwenye huduma. Omba msaada.",
        ),
        _ => ("", ""),
    };
    match lang {
        Lang::En => en,
        Lang::Sw => sw,
    }
}
